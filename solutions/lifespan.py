"""Drill 2, lifespan: one solution. Lesson: notebooks/02_lifespan.ipynb.

The lifespan opens the database pool and the embedding client once at startup, keeps them
on app.state, and closes the pool at shutdown. Routes get them through dependencies.
Grade it with `docchat-grade solutions/lifespan.py`.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request


class Pool:
    """Stands in for a real database pool (asyncpg, SQLAlchemy's async engine, ...)."""

    async def fetch_documents(self) -> list[dict]:
        return [{"id": "d1", "title": "Handbook.pdf"}]

    async def close(self) -> None:
        pass


class Embedder:
    """Stands in for an embedding model client."""

    def embed(self, text: str) -> list[float]:
        return [0.0] * 384


async def open_db_pool() -> Pool:
    return Pool()


def load_embedding_client() -> Embedder:
    return Embedder()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The factories are looked up by name here, at startup, so swapped versions are used;
    # and each start opens fresh resources, so the app can be started again.
    async with AsyncExitStack() as stack:
        app.state.db = await open_db_pool()
        # Registered before the next line can fail: a half-finished startup still closes it.
        stack.push_async_callback(app.state.db.close)
        app.state.embedder = load_embedding_client()
        yield


app = FastAPI(title="DocChat lifespan", lifespan=lifespan)


def get_db(request: Request) -> Pool:
    """The pool the lifespan opened; tests replace it with app.dependency_overrides[get_db]."""
    return request.app.state.db


def get_embedder(request: Request) -> Embedder:
    return request.app.state.embedder


DB = Annotated[Pool, Depends(get_db)]
EmbeddingClient = Annotated[Embedder, Depends(get_embedder)]


@app.get("/documents")
async def list_documents(db: DB) -> list[dict]:
    return await db.fetch_documents()


@app.get("/embedding")
def embedding(text: str, embedder: EmbeddingClient) -> dict[str, int]:
    # A sync route: FastAPI runs it in a thread pool, so a slow embed() blocks no one.
    return {"dimensions": len(embedder.embed(text))}
