"""Drill 2, lifespan. Lesson: notebooks/02_lifespan.ipynb.

Open DocChat's two expensive resources, the database pool and the embedding client, once
when the app starts; share them with every request through app.state; close the pool when
the app stops. Right now every request opens its own, and nothing is ever closed.

Check your work with:  docchat-grade drills/lifespan.py
Stuck on a check?      docchat-grade hint lifespan.<check>

The grader swaps `open_db_pool` and `load_embedding_client` for its own counting versions
after import: call them by these module-level names when the app starts.
"""

from fastapi import FastAPI


class Pool:
    """Stands in for a real database pool. Leave it as it is."""

    async def fetch_documents(self) -> list[dict]:
        return [{"id": "d1", "title": "Handbook.pdf"}]

    async def close(self) -> None:
        pass


class Embedder:
    """Stands in for an embedding model client. Leave it as it is."""

    def embed(self, text: str) -> list[float]:
        return [0.0] * 384


async def open_db_pool() -> Pool:
    """Open the database pool. Leave it as it is: the grader replaces it."""
    return Pool()


def load_embedding_client() -> Embedder:
    """Load the embedding client. Leave it as it is: the grader replaces it."""
    return Embedder()


# TODO: write a lifespan that opens both resources once, keeps them on app.state.db and
#       app.state.embedder, and closes the pool when the app stops; pass it to FastAPI().
app = FastAPI(title="DocChat lifespan")


@app.get("/documents")
async def list_documents():
    # TODO: answer from the pool opened at startup instead of opening one per request.
    pool = await open_db_pool()
    return await pool.fetch_documents()


@app.get("/embedding")
def embedding(text: str):
    # TODO: answer from the embedding client loaded at startup.
    embedder = load_embedding_client()
    return {"dimensions": len(embedder.embed(text))}


# TODO (going further): a `get_db` dependency for /documents, a startup that cleans up when
#       it fails halfway, and an app that can start twice; see the lesson's last part.
