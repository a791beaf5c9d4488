"""Checks for drill 2, lifespan (docs/contract.md): when the shared resources open, where they live,
and when they close. The grader's factories count every call; its pool counts every close."""

from __future__ import annotations

import inspect
import json
from contextlib import ExitStack
from typing import Any

import pytest

from grader.fakes.lifespan import FACTORIES, EmbeddingServiceDown, FakeEmbedder, FakePool
from grader.expect import describe, fail, json_body, trim
from grader.engine.learner import explain

check = pytest.mark.check
REQUESTS = 5
TEXT = "what does the handbook say about leave?"
EMBEDDING = f"GET /embedding?text={TEXT}"


def times(n: int) -> str:
    return f"{n} time{'s' * (n != 1)}"


def call_counts(before: dict[str, int], after: dict[str, int], name: str) -> str:
    later = after[name] - before[name]
    return (f"{name}() ran {times(before[name])} during startup and {later} more "
            f"time{'s' * (later != 1)} while serving")


@check("lifespan.not_at_import")
def check_not_at_import(lifespan):
    ran = [name for name in FACTORIES if lifespan.imported.ran.get(name)]
    if ran:
        fail(sent=f"a fresh import of {lifespan.learner.path.name}, without starting the app",
             got=" and ".join(f"{name}()" for name in ran) + " ran while the module was imported",
             expected="neither factory called until the app starts: call them in the lifespan")


@check("lifespan.opens_once")
def check_opens_once(lifespan, serve):
    factories = lifespan.factories
    with serve(lifespan.learner, raise_server_exceptions=False) as client:
        at_startup = factories.counts()
        for i in range(REQUESTS):
            client.get("/documents")
            client.get("/embedding", params={"text": f"question {i}"})
    after = factories.counts()
    sent = (f"app startup, then {REQUESTS} x GET /documents and {REQUESTS} x GET /embedding, "
            "then shutdown")
    wrong = [call_counts(at_startup, after, name) for name in FACTORIES if after[name] != 1]
    if wrong:
        fail(sent=sent, got="; ".join(wrong),
             expected="each factory run exactly once, at startup, however many requests come in")


@check("lifespan.on_app_state")
def check_on_app_state(lifespan, serve):
    factories = lifespan.factories
    with serve(lifespan.learner, raise_server_exceptions=False) as client:
        for name, made, factory in (("db", factories.pools, "open_db_pool"),
                                    ("embedder", factories.embedders, "load_embedding_client")):
            problem = state_problem(lifespan.app.state, client.app_state, name, made, factory)
            if problem:
                fail(sent="app startup, then a look at app.state (before any request)",
                     got=problem, expected=f"app.state.{name} is the object {factory}() returned")


def state_problem(state: Any, lifespan_state: dict, name: str, made: list, factory: str) -> str:
    """Why app.state.<name> is not one of the objects `factory` made, or ''."""
    value = getattr(state, name, None)
    if inspect.iscoroutine(value):
        value.close()
        return f"app.state.{name} is a coroutine: {factory}() is async, so await it"
    if not made:
        return f"{factory}() was not called during startup"
    if any(value is m for m in made):
        return ""
    elsewhere = [f"app.state.{k}" for k, v in vars(state).get("_state", {}).items()
                 if any(v is m for m in made)]
    elsewhere += [f"the lifespan's yielded state ({k!r})" for k, v in lifespan_state.items()
                  if any(v is m for m in made)]
    if elsewhere:
        return (f"app.state has no `{name}`; the object {factory}() returned is in "
                f"{' and '.join(elsewhere)}. This drill asks for app.state.{name}: set it in the lifespan")
    if value is None:
        return f"app.state has no `{name}` after startup"
    return f"app.state.{name} is {trim(repr(value), 120)}, not the object {factory}() returned"


@check("lifespan.routes_use_resources")
def check_routes_use_resources(lifespan, serve):
    factories = lifespan.factories
    with serve(lifespan.learner) as client:
        documents = client.get("/documents")
        embedding = client.get("/embedding", params={"text": TEXT})
    answers = [p.documents for p in factories.pools]
    if json_body(documents, sent="GET /documents") not in answers:
        fail(sent="GET /documents", got=describe(documents),
             expected=expected_documents(factories.pools))
    dimensions = json_body(embedding, sent=EMBEDDING)
    embedders = [e for e in factories.embedders if dimensions == {"dimensions": e.dimensions}]
    if not embedders:
        fail(sent=EMBEDDING, got=describe(embedding), expected=expected_dimensions(factories.embedders))
    if not any(TEXT in e.texts for e in embedders):
        asked = [t for e in embedders for t in e.texts]
        fail(sent=EMBEDDING, got=f"{describe(embedding)}; embed() was called with {trim(repr(asked), 200)}",
             expected=f"the vector of embed({TEXT!r}): pass the query's text")


def expected_documents(pools: list[FakePool]) -> str:
    if not pools:
        return "the documents of the pool open_db_pool() returned (open_db_pool() was never called)"
    return f"the pool's documents, as fetch_documents() returned them: {json.dumps(pools[0].documents)}"


def expected_dimensions(embedders: list[FakeEmbedder]) -> str:
    if not embedders:
        return ('{"dimensions": <len of the vector>} from the embedding client '
                "(load_embedding_client() was never called)")
    return (f'{{"dimensions": {embedders[0].dimensions}}}, the length of embed(text) on the client '
            "load_embedding_client() returned")


@check("lifespan.closes_on_shutdown")
def check_closes_on_shutdown(lifespan, serve):
    factories = lifespan.factories
    sent = "app startup, GET /documents and /embedding, then shutdown"
    with serve(lifespan.learner, raise_server_exceptions=False) as client:
        opened = list(factories.pools)
        client.get("/documents")
        client.get("/embedding", params={"text": TEXT})
        early = [p for p in factories.pools if p.close_calls]
    if early:
        fail(sent=sent, got=f"{early[0]!r} was closed while the app was still running",
             expected="the pool closed at shutdown, after the last request")
    pools = opened or factories.pools  # none opened at startup: judge the ones requests opened
    if not pools:
        fail(sent=sent, got="open_db_pool() was never called, so there was no pool to close",
             expected="the pool opened at startup, closed once at shutdown")
    for pool in pools:
        if pool.closed != 1:
            fail(sent=sent, got=close_story(pool), expected=f"{pool!r} closed exactly once, at shutdown")


def close_story(pool: FakePool) -> str:
    if pool.close_calls and not pool.closed:
        return f"{pool!r}.close() was called but never awaited (it is async)"
    return f"{pool!r} was closed {times(pool.closed)}"


DEFAULT_LIFESPAN = "fastapi.routing._DefaultLifespan"  # what FastAPI() uses when no lifespan= is given


@check("lifespan.no_on_event")
def check_no_on_event(lifespan):
    router = lifespan.app.router
    sent = "the app as imported: its startup and shutdown handlers"
    handlers = [f"{kind} handler {getattr(h, '__name__', repr(h))}()"
                for kind, found in (("startup", router.on_startup), ("shutdown", router.on_shutdown))
                for h in found]
    has_lifespan = getattr(router.lifespan_context, "type_name", "") != DEFAULT_LIFESPAN
    if handlers:
        fail(sent=sent, got=", ".join(handlers) + " (from @app.on_event, on_startup= or on_shutdown=)"
             + (", beside a lifespan: FastAPI silently skips them" if has_lifespan else ""),
             expected="no on_event / on_startup / on_shutdown handlers (deprecated, and skipped once "
                      "the app has a lifespan): put startup and shutdown in the lifespan")
    if not has_lifespan:
        fail(sent=sent, got="an app created without lifespan=",
             expected="FastAPI(lifespan=...): one function for startup and shutdown")


@check("lifespan.depends_alias")
def check_depends_alias(lifespan, serve):
    get_db = getattr(lifespan.learner.module, "get_db", None)
    if not callable(get_db):
        fail(sent=f"a look for `get_db` in {lifespan.learner.path.name}",
             got="no module-level function get_db", expected="a dependency `get_db` that gives the pool")
    stand_in = FakePool("override pool")
    sent = "GET /documents with app.dependency_overrides[get_db] giving another pool"
    lifespan.app.dependency_overrides[get_db] = lambda: stand_in
    try:
        with serve(lifespan.learner) as client:
            response = client.get("/documents")
    finally:
        lifespan.app.dependency_overrides.pop(get_db, None)
    if json_body(response, sent=sent) != stand_in.documents:
        bypassed = response.json() in [p.documents for p in lifespan.factories.pools]
        fail(sent=sent, got=describe(response),
             expected=f"the override's documents: {json.dumps(stand_in.documents)}",
             note=("the route reached the pool without asking get_db: take it as a parameter, "
                   "`db: Annotated[..., Depends(get_db)]`") if bypassed else "")


@check("lifespan.cleans_partial_startup")
def check_cleans_partial_startup(lifespan, serve):
    factories = lifespan.factories
    factories.embedder_fails = True
    sent = "app startup, with load_embedding_client() raising EmbeddingServiceDown"
    with ExitStack() as running:
        try:
            running.enter_context(serve(lifespan.learner))
        except Exception as exc:  # startup failed, as it should: how is judged below
            raised = exc
        else:
            raised = None
    if raised is None:
        fail(sent=sent, got="the app started anyway" + (
             "" if factories.embedder_attempts else ", without calling load_embedding_client()"),
             expected="startup fails: let the exception out of the lifespan")
    if not factories.embedder_attempts and not isinstance(raised, EmbeddingServiceDown):
        fail(sent=sent, got=f"startup failed before calling load_embedding_client(): it "
             f"{explain(raised, lifespan.learner.path)}",
             expected="startup to fail only because load_embedding_client() raised")
    for pool in factories.pools:
        if pool.closed != 1:
            fail(sent=sent, got=f"startup failed, and {close_story(pool)}",
                 expected="the pool opened before the failure closed exactly once")


@check("lifespan.restartable")
def check_restartable(lifespan, serve):
    factories = lifespan.factories
    for run in ("first", "second"):
        pools_before, embedders_before = len(factories.pools), len(factories.embedders)
        sent = f"the {run} start of the same app, GET /documents and {EMBEDDING}, then stop"
        with ExitStack() as running:
            try:
                client = running.enter_context(serve(lifespan.learner))
            except Exception as exc:
                if run == "first":
                    raise
                fail(sent=sent, got=f"the second startup failed: the app {explain(exc, lifespan.learner.path)}",
                     expected="the app starts and stops again, like a server restarted in one process")
            pools, embedders = factories.pools[pools_before:], factories.embedders[embedders_before:]
            documents = client.get("/documents")
            embedding = client.get("/embedding", params={"text": TEXT})
        for route, response, fresh, answer in (
                ("/documents", documents, pools, lambda p: p.documents),
                ("/embedding", embedding, embedders, lambda e: {"dimensions": e.dimensions})):
            if json_body(response, sent=sent) not in [answer(r) for r in fresh]:
                fail(sent=sent, got=f"GET {route}: {describe(response)}" + (
                     "" if fresh else f"; nothing was opened during the {run} startup"),
                     expected=f"GET {route} answered from what this startup opened"
                              + (", not from what the first run opened" if run == "second" else ""))
