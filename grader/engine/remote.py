"""The examiner's side of an app host: the learner's objects at arm's length.

- `AppHost`: one app host process (forked by the sandboxed template, grader.engine.isolation),
  reached over a socket pair. `load()` sends the learner's file and the seams, and returns
  the module and the app as `Remote` references.
- `RemoteApp`: an ASGI app that forwards every message to the learner's app in the app host,
  so checks keep `TestClient(app)` and the direct driver; what the checks see is what came
  over the wire, timed here.
- `Remote`: a reference to one object in the app host. Attribute and item access, calls,
  iteration and `isinstance` go over the wire; what comes back is plain data, another
  `Remote`, or one of the examiner's own objects (a fake the learner stored somewhere).
- The examiner's objects the learner's code may call: functions and bound methods, objects
  that list their callable names in `__remote__`, coroutines and async iterators. Nothing
  else of the examiner's ever reaches the app host.
"""

from __future__ import annotations

import asyncio
import builtins
import contextvars
import inspect
import itertools
import socket
import sys
import threading
import types
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.engine import wire
from grader.engine.learner import LearnerError

CALL_LIMIT = 60.0  # a backstop: the runner's per-check limit ends a stuck check long before
CLASSES_FROM = ("builtins", "fastapi", "starlette", "pydantic", "types", "collections")
DUNDERS = ("__name__", "__qualname__", "__module__", "__doc__", "__mro__")
KNOWN_TYPES = {"builtins.coroutine": types.CoroutineType, "builtins.async_generator": types.AsyncGeneratorType,
               "builtins.function": types.FunctionType, "builtins.NoneType": type(None)}


@dataclass(frozen=True)
class Caller:
    """Who called one of the examiner's seams: on an event loop's thread, and for which request."""

    on_event_loop: bool = False
    request: object = None


CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("docchat_caller", default=Caller())


class LearnerRaised(Exception):
    """The learner's code raised in the app host; `str()` is the sentence for the learner."""

    __docchat_learner__ = True

    def __init__(self, info: dict) -> None:
        super().__init__(str(info.get("message", "raised an exception"))[:4000])
        self.type_name = str(info.get("type", "Exception"))
        self.exited = bool(info.get("exit"))


class RaiseInApp(Exception):
    """Raised by a grader function the app calls: the app host raises `obj` (its own object) there."""

    def __init__(self, obj: Any) -> None:
        super().__init__(repr(obj))
        self.wire_info = {"kind": "raise", "obj": obj}


class AppHostGone(LearnerError):
    """The app host process ended (the learner's code exited, crashed or was killed)."""


class AppHost:
    """One app host: the wire to it, its sessions, and the examiner's objects it holds."""

    def __init__(self, sock: socket.socket, pid: int, name: str, on_gone: Any = None) -> None:
        self.pid, self.name = pid, name  # pid as this process sees it (for /proc)
        self.sessions: dict[int, tuple[asyncio.AbstractEventLoop, Any, Any, object]] = {}
        self.loop: asyncio.AbstractEventLoop | None = None  # where fakes' coroutines run
        self._sids = itertools.count(1)
        self._private_loop: asyncio.AbstractEventLoop | None = None
        self.peer = wire.Peer(sock, wire.Refs(self._proxy), describe=export, home=self._home,
                              handle=self._handle, dispatch=_dispatch, on_close=on_gone or (lambda why: None))
        self.peer.start()

    # -- calls into the app host ------------------------------------------------------------

    def call(self, op: str, **args: Any) -> Any:
        try:
            return self.peer.call(op, timeout=CALL_LIMIT, **args)
        except wire.RemoteError as exc:
            raise translate(exc) from None
        except wire.WireError as exc:
            raise AppHostGone(gone_message(str(exc))) from None
        except TimeoutError:
            raise LearnerError(f"the app did not answer within {CALL_LIMIT:g} s") from None

    def load(self, source: bytes, name: str, cwd: Path, seams: dict[str, Any],
             watch: tuple[str, ...] = ()) -> dict:
        return self.call("load", source=source, name=name, cwd=str(cwd), seams=seams, watch=list(watch))

    def bypassed(self) -> list[str]:
        try:
            return [str(n) for n in self.call("bypassed") if isinstance(n, str)]
        except LearnerError:
            return []

    def close(self) -> None:
        self.peer.close("closed by the examiner")
        if self._private_loop is not None:
            self._private_loop.call_soon_threadsafe(self._private_loop.stop)

    # -- the app host's calls into the examiner ---------------------------------------------

    def _home(self, value: Any) -> int | None:
        return value._ref if type(value) is Remote and value._host is self else None

    def _proxy(self, ref: int, meta: dict) -> Remote:
        return Remote(self, ref, meta)

    def _handle(self, op: str, args: dict) -> Any:
        if op in ("receive", "send"):
            loop, receive, send, _ = self._session(args.get("sid"))
            if op == "receive":
                return asyncio.run_coroutine_threadsafe(receive(), loop)
            message = args.get("message")
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise TypeError("the app sent an ASGI message that is not a dict with a 'type'")
            return asyncio.run_coroutine_threadsafe(send(message), loop)
        target = self.peer.refs.get(args.get("ref"))
        if op in ("invoke", "method"):
            if op == "method":
                if args.get("name") not in remote_names(target):
                    raise AttributeError(f"{target!r} has no method {args.get('name')!r} for the app")
                target = getattr(target, args["name"])
            call_args, kwargs = args.get("args"), args.get("kwargs")
            if not isinstance(call_args, list) or not isinstance(kwargs, dict) or not all(
                    isinstance(k, str) for k in kwargs):
                raise TypeError("malformed call")
            session = self.sessions.get(args.get("sid"))
            CALLER.set(Caller(bool(args.get("loop")), session[3] if session else None))
            result = target(*call_args, **kwargs)
            return self._run(result) if inspect.iscoroutine(result) and is_async(target) else result
        if op == "await" and inspect.isawaitable(target):
            return self._run(_awaited(target))
        if op == "anext" and hasattr(target, "__anext__"):
            return self._run(_step(target))
        if op == "aclose" and hasattr(target, "aclose"):
            return self._run(target.aclose())
        raise TypeError(f"the app cannot {op} {target!r}")

    def _session(self, sid: Any) -> tuple:
        try:
            return self.sessions[sid]
        except (KeyError, TypeError):
            raise KeyError("no such request") from None

    def _run(self, coroutine: Any) -> Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop or self._own_loop())

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        if self._private_loop is None:
            self._private_loop = asyncio.new_event_loop()
            threading.Thread(target=self._private_loop.run_forever, name="docchat-fakes", daemon=True).start()
        return self._private_loop

    # -- memory, read from outside -------------------------------------------------------------

    def reset_peak_memory(self) -> int | None:
        """Reset the app host's peak resident size; return its current one (None: not on this OS)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return None
        return _status_bytes(self.pid, "VmRSS")

    def peak_memory(self) -> int | None:
        return _status_bytes(self.pid, "VmHWM")


def _status_bytes(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) << 10
    except (OSError, ValueError, IndexError):
        pass
    return None


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


async def _step(iterator: Any) -> dict:
    try:
        return {"done": False, "value": await iterator.__anext__()}
    except StopAsyncIteration:
        return {"done": True}


INLINE = ("receive", "send", "await", "anext", "aclose")  # they only schedule a coroutine: no thread


def _dispatch(job, op: str) -> None:
    if op in INLINE:
        job()  # on the wire's reader thread: it returns a Future at once
    else:  # a fake may block (a held ingest): a thread of its own
        threading.Thread(target=job, name=f"docchat-{op}", daemon=True).start()


def gone_message(why: str) -> str:
    return ("the process running your app ended while this check ran: your code stopped it, for "
            "example with os._exit(), or crashed it")


def translate(exc: wire.RemoteError) -> BaseException:
    """A local exception for an error the app host reported."""
    info = exc.info
    if exc.kind == "LearnerError":
        return LearnerError(str(info.get("message", "")))
    if exc.kind == "learner":
        return LearnerRaised(info)
    if exc.kind in ("AttributeError", "KeyError", "IndexError", "TypeError", "StopIteration"):
        return getattr(builtins, exc.kind)(str(info.get("message", "")))
    return LearnerRaised({"message": f"raised {exc.kind}: {info.get('message', '')}", "type": exc.kind})


# -- the examiner's objects, described for the app host ------------------------------------


def is_async(fn: Any) -> bool:
    function = getattr(fn, "__func__", fn)
    return inspect.iscoroutinefunction(function) or (
        not inspect.isfunction(function) and inspect.iscoroutinefunction(getattr(fn, "__call__", None)))


def remote_names(obj: Any) -> tuple[str, ...]:
    return tuple(getattr(type(obj), "__remote__", ()))


def export(obj: Any) -> dict:
    """How the app host should stand in for one of the examiner's objects."""
    if inspect.iscoroutine(obj) or isinstance(obj, types.CoroutineType):
        return {"kind": "awaitable", "repr": repr(obj)}
    if hasattr(obj, "__anext__"):
        return {"kind": "aiter", "repr": repr(obj)}
    if remote_names(obj):
        methods = {name: "async" if inspect.iscoroutinefunction(getattr(obj, name)) else "sync"
                   for name in remote_names(obj) if callable(getattr(obj, name, None))}
        values = {name: getattr(obj, name) for name in remote_names(obj)
                  if not callable(getattr(obj, name, None)) and type(getattr(obj, name)) in wire.PLAIN}
        return {"kind": "obj", "repr": repr(obj), "methods": methods, "values": values}
    if callable(obj):
        function = getattr(obj, "__func__", obj)
        try:
            params = [p.name for p in inspect.signature(obj).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            plain = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                        for p in inspect.signature(obj).parameters.values())
        except (TypeError, ValueError):
            params, plain = None, False
        return {"kind": "fn", "name": getattr(function, "__name__", "seam"),
                "params": params if plain else None, "async": is_async(obj), "repr": repr(obj)}
    raise TypeError(f"the grader cannot hand {type(obj).__name__} objects to the app")


# -- the learner's objects, seen from here -----------------------------------------------------


class Remote:
    """A reference to one object in the app host (see the module docstring)."""

    __slots__ = ("_host", "_ref", "_meta", "_facts")

    def __init__(self, host: AppHost, ref: int, meta: dict) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_meta", meta)
        object.__setattr__(self, "_facts", None)

    def _look(self, *steps: list) -> Any:
        return self._host.call("look", obj=self, path=list(steps))

    def facts(self) -> dict:
        if self._facts is None:
            found = self._host.call("facts", obj=self)
            object.__setattr__(self, "_facts", found if isinstance(found, dict) else {})
        return self._facts

    @property
    def type_name(self) -> str:
        return str(self._meta.get("type", ""))

    @property
    def __class__(self) -> type:  # isinstance() against FastAPI's and Python's own classes
        return resolve_class(self.type_name) or Remote

    @property
    def __dict__(self) -> Any:  # vars(remote)
        return self._look(["dict"])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in DUNDERS:
            raise AttributeError(name)
        return self._look(["attr", name])

    def __setattr__(self, name: str, value: Any) -> None:
        self._look(["setattr", name, value])

    def __getitem__(self, key: Any) -> Any:
        return self._look(["item", key])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._look(["setitem", key, value])

    def __delitem__(self, key: Any) -> None:
        self._look(["delitem", key])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._look(["call", list(args), kwargs])

    def __iter__(self):
        return iter(self._look(["list"]))

    def __len__(self) -> int:
        length = self.facts().get("len")
        if not isinstance(length, int):
            raise TypeError(f"{self.type_name} has no len()")
        return length

    def __contains__(self, item: Any) -> bool:
        return any(item == x for x in self)

    def __eq__(self, other: Any) -> bool:
        if type(other) is Remote and other._ref == self._ref:
            return True
        return bool(self._host.call("equal", obj=self, other=other))

    def __hash__(self) -> int:
        return hash((id(self._host), self._ref))

    def __repr__(self) -> str:
        return str(self._meta.get("repr", "<app object>"))

    def __str__(self) -> str:
        return str(self.facts().get("str", repr(self)))

    def __bool__(self) -> bool:
        length = self.facts().get("len")
        return bool(length) if isinstance(length, int) else True

    def close(self) -> Any:
        return self._look(["attr", "close"], ["call", [], {}])

    def __copy__(self) -> Any:
        """A local copy of plain data (a dict, a list); anything else stays a reference."""
        return self._host.call("value", obj=self)

    def __deepcopy__(self, memo: dict) -> Any:
        return self.__copy__()


def resolve_class(name: str) -> type | None:
    """The examiner's class of that qualified name, from a few trusted libraries only.

    The name comes from the app host, so nothing is imported for it: only modules the examiner
    has loaded already are looked in.
    """
    if name in KNOWN_TYPES:
        return KNOWN_TYPES[name]
    module_name, _, qualname = name.rpartition(".")
    while module_name and "." in qualname and module_name not in CLASSES_FROM:
        module_name, _, head = module_name.rpartition(".")
        qualname = f"{head}.{qualname}"
    if not module_name.split(".")[0] in CLASSES_FROM:
        return None
    try:
        found: Any = sys.modules[module_name]
        for part in qualname.split("."):
            found = getattr(found, part)
    except (KeyError, AttributeError):
        return None
    return found if isinstance(found, type) else None


# -- the app, seen from here -------------------------------------------------------------------

SCOPE_KEYS = ("type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string",
              "root_path", "headers", "client", "server", "subprotocols", "extensions")


class RemoteApp:
    """An ASGI app whose every message goes to the learner's app in the app host.

    Other public attributes are the learner's FastAPI object's (`app.state`, `app.router`, ...).
    Private and special names stay here: what inspects the proxy (TestClient asking whether it
    is an async callable looks up `__name__` and `_is_coroutine`) learns about the proxy,
    without a round trip to the app host for each.
    """

    def __init__(self, host: AppHost, app: Remote, path: Path) -> None:
        object.__setattr__(self, "_host", host)
        object.__setattr__(self, "_remote", app)
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._remote, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._remote, name, value)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        from grader.asgi import CURRENT_REQUEST

        host = self._host
        loop = asyncio.get_running_loop()
        host.loop = loop
        sid = next(host._sids)
        host.sessions[sid] = (loop, receive, send, CURRENT_REQUEST.get())
        plain = {k: v for k, v in scope.items() if k in SCOPE_KEYS}
        try:
            await asyncio.wrap_future(host.peer.request("asgi", sid=sid, scope=plain))
        except asyncio.CancelledError:
            host.peer.request("cancel", sid=sid)
            raise
        except wire.RemoteError as exc:
            raised = translate(exc)
            if isinstance(raised, LearnerRaised) and raised.exited:
                raise LearnerError(f"your code {raised}") from None
            raise raised from None
        except wire.WireError as exc:
            raise AppHostGone(gone_message(str(exc))) from None
        finally:
            host.sessions.pop(sid, None)

    @property
    def lifespan_state(self) -> Remote:
        """The state the app's lifespan yielded (the app host keeps it, as a server would)."""
        return self._host.call("state")

    def memory_probe(self) -> tuple:
        """(reset, read): reset the app host's peak memory; read how far it rose since."""
        baseline: list[int | None] = [None]

        def reset() -> None:
            baseline[0] = self._host.reset_peak_memory()

        def read() -> int | None:
            peak = self._host.peak_memory()
            return None if peak is None or baseline[0] is None else max(0, peak - baseline[0])

        return reset, read
