"""Buggy lifespans: the mistakes learners make, each caught by the check that names it."""

from tests.mutants import Mutant

LIFESPAN_BODY = """    async with AsyncExitStack() as stack:
        app.state.db = await open_db_pool()
        # Registered before the next line can fail: a half-finished startup still closes it.
        stack.push_async_callback(app.state.db.close)
        app.state.embedder = load_embedding_client()
        yield
"""
LIFESPAN_TO_APP = """@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The factories are looked up by name here, at startup, so swapped versions are used;
    # and each start opens fresh resources, so the app can be started again.
""" + LIFESPAN_BODY + """

app = FastAPI(title="DocChat lifespan", lifespan=lifespan)
"""
ON_EVENT = """app = FastAPI(title="DocChat lifespan")


@app.on_event("startup")
async def open_resources() -> None:
    app.state.db = await open_db_pool()
    app.state.embedder = load_embedding_client()


@app.on_event("shutdown")
async def close_resources() -> None:
    await app.state.db.close()
"""
GET_DB = "    return request.app.state.db\n"
GET_EMBEDDER = "    return request.app.state.embedder\n"
OPEN_POOL = "        app.state.db = await open_db_pool()\n"
LOAD_EMBEDDER = "        app.state.embedder = load_embedding_client()\n"
PUSH_CLOSE = "        stack.push_async_callback(app.state.db.close)\n"
BEFORE_LIFESPAN = "\n\n@asynccontextmanager\n"

MUTANTS = [
    Mutant("warms_embedder_at_import", "lifespan.not_at_import", (
        (BEFORE_LIFESPAN, "\n\nload_embedding_client()  # warm the model cache\n" + BEFORE_LIFESPAN),)),
    Mutant("checks_db_at_import", "lifespan.not_at_import", (
        ("from collections.abc import AsyncIterator\n",
         "import asyncio\nfrom collections.abc import AsyncIterator\n"),
        (BEFORE_LIFESPAN, "\n\nasyncio.run(open_db_pool())  # fail fast if the database is down\n"
         + BEFORE_LIFESPAN))),
    Mutant("embedder_per_request", "lifespan.opens_once", (
        (GET_EMBEDDER, "    return load_embedding_client()\n"),)),
    Mutant("pool_per_request", "lifespan.opens_once", (
        ("def get_db(request: Request) -> Pool:", "async def get_db(request: Request) -> Pool:"),
        (GET_DB, "    return await open_db_pool()\n"))),
    # Every start breaks: the default argument keeps the original factory, not the grader's.
    Mutant("seam_copied_as_default", "lifespan.opens_once", (
        ("async def lifespan(app: FastAPI) -> AsyncIterator[None]:",
         "async def lifespan(app: FastAPI, open_pool=open_db_pool) -> AsyncIterator[None]:"),
        (OPEN_POOL, "        app.state.db = await open_pool()\n")),
        also=("lifespan.on_app_state", "lifespan.routes_use_resources", "lifespan.closes_on_shutdown")),
    Mutant("yields_state_dict", "lifespan.on_app_state", (
        (OPEN_POOL + "        # Registered before the next line can fail: a half-finished startup still "
         "closes it.\n" + PUSH_CLOSE + LOAD_EMBEDDER + "        yield\n",
         "        db = await open_db_pool()\n        stack.push_async_callback(db.close)\n"
         '        yield {"db": db, "embedder": load_embedding_client()}\n'),
        (GET_DB, "    return request.state.db\n"),
        (GET_EMBEDDER, "    return request.state.embedder\n"))),
    Mutant("state_named_pool", "lifespan.on_app_state", (
        (OPEN_POOL, "        app.state.pool = await open_db_pool()\n"),
        (PUSH_CLOSE, "        stack.push_async_callback(app.state.pool.close)\n"),
        (GET_DB, "    return request.app.state.pool\n"))),
    Mutant("fixed_dimensions", "lifespan.routes_use_resources", (
        ('    return {"dimensions": len(embedder.embed(text))}', '    return {"dimensions": 384}'),)),
    # The override is bypassed too, so the stretch check depends_alias fails as well.
    Mutant("documents_from_stand_in", "lifespan.routes_use_resources", (
        ("    return await db.fetch_documents()", "    return await Pool().fetch_documents()"),)),
    Mutant("never_closes", "lifespan.closes_on_shutdown", ((PUSH_CLOSE, ""),)),
    Mutant("close_not_awaited", "lifespan.closes_on_shutdown", (
        (PUSH_CLOSE, "        stack.callback(app.state.db.close)\n"),)),
    Mutant("closes_before_serving", "lifespan.closes_on_shutdown", (
        (LOAD_EMBEDDER + "        yield\n", LOAD_EMBEDDER + "    yield\n"),)),
    Mutant("extra_on_event_handler", "lifespan.no_on_event", (
        ('app = FastAPI(title="DocChat lifespan", lifespan=lifespan)\n',
         'app = FastAPI(title="DocChat lifespan", lifespan=lifespan)\n\n\n'
         '@app.on_event("shutdown")\nasync def say_goodbye() -> None:\n    print("bye")\n'),)),
    Mutant("on_event_instead_of_lifespan", "lifespan.no_on_event", ((LIFESPAN_TO_APP, ON_EVENT),)),
    Mutant("reads_state_directly", "lifespan.depends_alias", (
        ("async def list_documents(db: DB) -> list[dict]:\n    return await db.fetch_documents()",
         "async def list_documents(request: Request) -> list[dict]:\n"
         "    return await request.app.state.db.fetch_documents()"),)),
    Mutant("no_cleanup_on_failure", "lifespan.cleans_partial_startup", (
        (LIFESPAN_BODY, "    app.state.db = await open_db_pool()\n"
         "    app.state.embedder = load_embedding_client()\n    yield\n    await app.state.db.close()\n"),)),
    Mutant("swallows_startup_error", "lifespan.cleans_partial_startup", (
        (LOAD_EMBEDDER, "        try:\n            app.state.embedder = load_embedding_client()\n"
         "        except Exception:\n            app.state.embedder = None  # carry on without embeddings\n"),)),
    Mutant("reuses_resources", "lifespan.restartable", (
        (OPEN_POOL, '        app.state.db = getattr(app.state, "db", None) or await open_db_pool()\n'),
        (LOAD_EMBEDDER,
         '        app.state.embedder = getattr(app.state, "embedder", None) or load_embedding_client()\n'))),
]
