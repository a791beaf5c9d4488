"""The lifespan drill's seams: counting factories, fake resources, and an import watch.

The fakes count every factory call and every `close()`, and each resource is numbered, so a
check can tell which pool or embedder answered a request. `ImportWatch` observes the
learner's module while it is imported, before the grader swaps any seam.
"""

from __future__ import annotations

import inspect
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

import pytest

from grader.engine.learner import Learner
from grader.engine.session import session_of

FACTORIES = ("open_db_pool", "load_embedding_client")


class EmbeddingServiceDown(RuntimeError):
    """What the grader's `load_embedding_client` raises when a check makes it fail."""


@dataclass(eq=False)
class FakePool:
    """A database pool: numbered documents, and a count of closes begun and finished."""

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


class ImportWatch:
    """Entered around the learner's import: which of its factories ran while it was imported.

    A profile hook (this thread, and threads started meanwhile) records every function of
    the learner's file that starts running; on exit, the factories' own code objects are
    looked up in the module just imported, before any seam is swapped. An `async def`
    factory counts once its body runs (for example under `asyncio.run`).
    """

    def __init__(self, path: Path, names: tuple[str, ...] = FACTORIES) -> None:
        self.filename, self.names = str(path), names
        self.ran: dict[str, bool] = {}
        self._codes: set[CodeType] = set()
        self._globals: dict[str, Any] = {}

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == self.filename:
            self._codes.add(frame.f_code)
            if frame.f_code.co_name == "<module>":
                self._globals = frame.f_globals

    def __enter__(self) -> ImportWatch:
        self._previous = sys.getprofile(), threading.getprofile()
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(self._previous[0])
        threading.setprofile(self._previous[1])
        self.ran = {name: self._ran(name) for name in self.names}

    def _ran(self, name: str) -> bool:
        target = self._globals.get(name)
        try:
            code = getattr(inspect.unwrap(target), "__code__", None) if callable(target) else None
        except ValueError:  # a __wrapped__ cycle: fall back to the name
            code = None
        return code in self._codes or any(c.co_name == name for c in self._codes)


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
    watch = ImportWatch(session_of(request.config).target)
    learner = load_learner(factories.seams(), around_import=watch)
    return LifespanDrill(learner, factories, watch)
