"""The lifespan drill's seams: counting factories, fake resources, and an import watch.

The fakes count every factory call and every `close()`, and each resource is numbered, so a
check can tell which pool or embedder answered a request. `ImportWatch` observes the
learner's module while it is imported, before the grader swaps any seam.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from grader.engine.learner import Learner

FACTORIES = ("open_db_pool", "load_embedding_client")


class EmbeddingServiceDown(RuntimeError):
    """What the grader's `load_embedding_client` raises when a check makes it fail."""


@dataclass(eq=False)
class FakePool:
    """A database pool: numbered documents, and a count of closes begun and finished."""

    __remote__ = ("fetch_documents", "close", "label")  # what the learner's code may use

    label: str
    close_calls: int = 0  # close() called
    closed: int = 0  # close() awaited to the end

    @property
    def documents(self) -> list[dict]:
        return [{"id": f"{self.label}-doc", "title": f"From the grader's {self.label}.pdf"}]

    async def fetch_documents(self) -> list[dict]:
        return self.documents

    def close(self):  # not `async def`: a close() that is never awaited still shows up here
        self.close_calls += 1
        return self._finish_close()

    async def _finish_close(self) -> None:
        self.closed += 1

    def __repr__(self) -> str:
        return f"<the grader's {self.label}>"


@dataclass(eq=False)
class FakeEmbedder:
    """An embedding client whose vectors have a length of its own, so answers show who made them."""

    __remote__ = ("embed", "dimensions", "number")

    number: int
    texts: list[str] = field(default_factory=list)

    @property
    def dimensions(self) -> int:
        return 256 + self.number

    def embed(self, text: str) -> list[float]:
        self.texts.append(text)
        return [0.5] * self.dimensions

    def __repr__(self) -> str:
        return f"<the grader's embedder #{self.number}>"


@dataclass
class Factories:
    """Stand in for `open_db_pool` and `load_embedding_client`, keeping all they made."""

    pools: list[FakePool] = field(default_factory=list)
    embedders: list[FakeEmbedder] = field(default_factory=list)
    embedder_fails: bool = False
    embedder_attempts: int = 0

    async def open_db_pool(self) -> FakePool:
        pool = FakePool(f"pool #{len(self.pools) + 1}")
        self.pools.append(pool)
        return pool

    def load_embedding_client(self) -> FakeEmbedder:
        self.embedder_attempts += 1
        if self.embedder_fails:
            raise EmbeddingServiceDown("the grader's embedding service is unreachable")
        embedder = FakeEmbedder(len(self.embedders) + 1)
        self.embedders.append(embedder)
        return embedder

    def counts(self) -> dict[str, int]:
        return {"open_db_pool": len(self.pools), "load_embedding_client": self.embedder_attempts}

    def seams(self) -> dict[str, Any]:
        return {"open_db_pool": self.open_db_pool, "load_embedding_client": self.load_embedding_client}


@dataclass
class ImportWatch:
    """Which factories of the learner's file ran while it was imported (the app host watches)."""

    ran: dict[str, bool]


@dataclass
class LifespanDrill:
    learner: Learner
    factories: Factories
    imported: ImportWatch

    @property
    def app(self) -> Any:
        return self.learner.app


@pytest.fixture
def lifespan(request: pytest.FixtureRequest, load_learner) -> LifespanDrill:
    factories = Factories()
    learner = load_learner(factories.seams(), watch=FACTORIES)
    return LifespanDrill(learner, factories, ImportWatch({name: name in learner.imported for name in FACTORIES}))
