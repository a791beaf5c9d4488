"""The app host: the only process that runs the learner's code, inside the sandbox.

`python -m grader.engine.apphost --control FD` is the *template*: it imports FastAPI and
friends once, then forks one app host per request that arrives on its control socket (with
the app host's own socket attached). An app host receives the learner's file as bytes,
imports it in its scratch folder, puts the grader's seams in place (stubs that forward each
call to the examiner's fakes) and serves the app's ASGI traffic, lifespan included, for the
examiner's proxy app. It also answers the examiner's questions about its objects (a module
attribute, `app.state`, ...); such answers can only explain or fail a check, never pass one.

Nothing here is trusted by the examiner: it decodes every value with grader.engine.wire, and
a frame that breaks the protocol ends this app host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import gc
import inspect
import os
import resource
import signal
import socket
import sys
import threading
import traceback
import types
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from grader.engine import wire
from grader.engine.learner import LearnerError, explain, import_error

WARM = ("asyncio", "json", "uuid", "sqlite3", "email.parser", "concurrent.futures", "tempfile",
        "pydantic", "fastapi", "fastapi.responses", "fastapi.security", "fastapi.staticfiles",
        "fastapi.sse", "starlette.background", "starlette.responses", "anyio",
        "anyio._backends._asyncio", "anyio.from_thread", "python_multipart", "multipart")
PEER: wire.Peer | None = None  # this app host's wire (one per process)
SESSION: contextvars.ContextVar[int | None] = contextvars.ContextVar("docchat_session", default=None)
TEXT_MAX = 4000


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Host:
    """One app host: the learner's module, its app, and the ASGI sessions in flight."""

    def __init__(self, sock: socket.socket) -> None:
        self.loop = asyncio.new_event_loop()
        self.tasks: dict[int, asyncio.Task] = {}
        self.lifespan_state: dict = {}
        self.bypassed: list[str] = []
        self.finished = threading.Event()
        global PEER
        self.peer = PEER = wire.Peer(sock, wire.Refs(self._proxy), describe=describe, home=self._home,
                                     handle=self._handle, dispatch=self._dispatch, on_close=self._closed)

    # -- plumbing -------------------------------------------------------------------------

    def run(self) -> None:
        threading.Thread(target=self.loop.run_forever, name="docchat-app-loop", daemon=True).start()
        self.peer.start()
        self.finished.wait()

    def _closed(self, why: str) -> None:
        self.finished.set()

    def _dispatch(self, job, op: str) -> None:
        if op in ("asgi", "cancel"):
            job()  # only schedules work on the app's loop: no thread needed
        else:
            threading.Thread(target=job, name=f"docchat-{op}", daemon=True).start()

    def _home(self, value: Any) -> int | None:
        return getattr(value, "_docchat_ref", None) if isinstance(value, Foreign) else None

    def _proxy(self, ref: int, meta: dict) -> Any:
        return make_foreign(self, ref, meta)

    def forward(self, op: str, **args: Any) -> Future:
        return self.peer.request(op, loop=_on_a_loop(), sid=SESSION.get(), **args)

    # -- the examiner's requests ----------------------------------------------------------

    def _handle(self, op: str, args: dict) -> Any:
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise wire.WireError(f"no such operation: {op}")
        return handler(**args)

    def op_load(self, source: bytes, name: str, cwd: str, seams: dict, watch: list) -> dict:
        os.chdir(cwd)
        path = Path(cwd) / name
        path.write_bytes(source)
        ran: set[str] = set()
        with ImportWatch(str(path), watch) as watcher:
            module = load(path)
        ran = watcher.ran(module)
        self.module, self.app, self.path = module, module.app, path
        originals = self.op_swap(seams)
        return {"module": wire.Boxed(module), "app": wire.Boxed(module.app), "ran": sorted(ran),
                "originals": originals, "names": sorted(n for n in vars(module) if isinstance(n, str))[:5000]}

    def op_swap(self, seams: dict) -> dict:
        """Put the grader's seams in place; return what each name held before (by reference)."""
        originals = {}
        for seam, value in seams.items():
            if not hasattr(self.module, seam):
                raise _learner(f"{self.path.name} has no module-level `{seam}`: the drill needs it "
                               "(the grader replaces it with its own version)")
            original = getattr(self.module, seam)
            setattr(self.module, seam, value)
            self._trip(self.module, seam, original)
            originals[seam] = wire.Boxed(original)
        return originals

    def _trip(self, module: types.ModuleType, name: str, original: Any) -> None:
        """Booby-trap a seam's original: code that kept a copy of it is caught calling it."""
        code = getattr(original, "__code__", None)
        if code is None or code.co_freevars or isinstance(original, Foreign):
            return
        registry = module.__dict__.setdefault("__docchat_tripwires__", {})
        registry[name] = lambda *a, **k: self.bypassed.append(name)
        kind = "async def" if code.co_flags & inspect.CO_COROUTINE else "def"
        namespace: dict[str, Any] = {}
        exec(f"{kind} tripwire(*args, **kwargs):\n"
             f"    return __docchat_tripwires__[{name!r}](*args, **kwargs)\n", namespace)
        original.__code__ = namespace["tripwire"].__code__

    def op_asgi(self, sid: int, scope: dict) -> Future:
        done: Future = Future()

        async def run() -> None:
            SESSION.set(sid)
            if scope.get("type") == "lifespan":
                self.lifespan_state = {}
                scope["state"] = self.lifespan_state
            else:
                scope["state"] = dict(self.lifespan_state)
            try:
                await self.app(scope, self._receive(sid), self._send(sid))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # noqa: BLE001 - the learner's (sys.exit too): told, not obeyed
                raise LearnerFailed(learner_info(exc, self.path)) from None

        def start() -> None:
            task = self.loop.create_task(run())
            self.tasks[sid] = task
            task.add_done_callback(lambda t: (self.tasks.pop(sid, None), _settle(done, t)))

        self.loop.call_soon_threadsafe(start)
        return done

    def op_cancel(self, sid: int) -> None:
        task = self.tasks.get(sid)
        if task is not None:
            self.loop.call_soon_threadsafe(task.cancel)

    def _receive(self, sid: int):
        async def receive() -> dict:
            return await asyncio.wrap_future(self.peer.request("receive", sid=sid))
        return receive

    def _send(self, sid: int):
        async def send(message: dict) -> None:
            await asyncio.wrap_future(self.peer.request("send", sid=sid, message=message))
        return send

    def op_look(self, obj: Any, path: list) -> Any:
        """`obj` then each step of `path`: ["attr", name] | ["item", key] | ["call", args, kwargs]."""
        for step in path:
            kind = step[0]
            if kind == "attr":
                obj = getattr(obj, step[1])
            elif kind == "item":
                obj = obj[step[1]]
            elif kind == "call":
                obj = obj(*step[1], **step[2])
            elif kind == "setattr":
                setattr(obj, step[1], step[2])
                obj = None
            elif kind == "setitem":
                obj[step[1]] = step[2]
                obj = None
            elif kind == "delitem":
                del obj[step[1]]
                obj = None
            elif kind == "list":
                obj = [wire.Boxed(item) if not isinstance(item, tuple) else
                       tuple(wire.Boxed(i) for i in item) for item in list(obj)[:10000]]
                return obj
            elif kind == "dict":
                obj = vars(obj)
            else:
                raise wire.WireError(f"no such step: {kind}")
        return wire.Boxed(obj)

    def op_facts(self, obj: Any) -> dict:
        """What the examiner may want to know about one object, in one round trip."""
        return {"type": _type_name(obj), "repr": _text(repr, obj), "str": _text(str, obj),
                "len": _len(obj), "callable": callable(obj),
                "exception_class": isinstance(obj, type) and issubclass(obj, Exception)}

    def op_value(self, obj: Any) -> Any:
        """The object by value: plain data (dicts, lists, ...) copied, anything else by reference."""
        return obj

    def op_equal(self, obj: Any, other: Any) -> bool:
        return bool(obj == other)

    def op_state(self) -> Any:
        return wire.Boxed(self.lifespan_state)

    def op_bypassed(self) -> list[str]:
        return list(self.bypassed)



class LearnerFailed(Exception):
    """What the learner's app raised, as the examiner is told it (never raised further here)."""

    def __init__(self, info: dict) -> None:
        super().__init__(info.get("message", ""))
        self.wire_info = info


def _settle(done: Future, task: asyncio.Task) -> None:
    if task.cancelled():
        done.set_exception(wire.WireError("cancelled"))
    elif task.exception() is not None:
        done.set_exception(task.exception())
    else:
        done.set_result(None)


def _learner(message: str) -> LearnerError:
    exc = LearnerError(message)
    exc.wire_info = {"kind": "LearnerError", "message": message}
    return exc


def learner_info(exc: BaseException, path: Path) -> dict:
    """What the examiner is told about an exception in the learner's code (plain data)."""
    try:
        text = explain(exc, path)
    except Exception:  # noqa: BLE001 - a learner's exception whose str() raises
        text = f"raised {type(exc).__name__}"
    return {"kind": "learner", "type": type(exc).__name__, "message": text[:TEXT_MAX],
            "exit": isinstance(exc, SystemExit)}


def _type_name_of(kind: type) -> str:
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def _type_name(obj: Any) -> str:
    return _type_name_of(type(obj))


def _text(show, obj: Any) -> str:
    try:
        return str(show(obj))[:TEXT_MAX]
    except Exception:  # noqa: BLE001 - a learner's __repr__ that raises
        return f"<{type(obj).__name__}>"


def _len(obj: Any) -> int | None:
    try:
        return len(obj)
    except Exception:  # noqa: BLE001 - anything without a length
        return None


def describe(obj: Any) -> dict:
    return {"type": _type_name(obj), "repr": _text(repr, obj)}


def load(path: Path) -> types.ModuleType:
    """Execute the learner's file as a fresh module named after it."""
    import importlib.util

    name = f"docchat_learner_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - whatever the import raised, said in a sentence
        sys.modules.pop(name, None)
        raise _learner(import_error(exc, path)) from None
    app = getattr(module, "app", None)
    from fastapi import FastAPI

    if app is None:
        raise _learner(f"{path.name} defines no module-level `app`: add `app = FastAPI()`")
    if not isinstance(app, FastAPI):
        raise _learner(f"`app` in {path.name} is a {type(app).__name__}, not a FastAPI application "
                       "(it should be `app = FastAPI(...)`)")
    return module


class ImportWatch:
    """Which of `names` (functions of the learner's file) started running during the import."""

    def __init__(self, filename: str, names: list[str]) -> None:
        self.filename, self.names = filename, list(names)
        self._codes: set = set()

    def _profile(self, frame, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == self.filename:
            self._codes.add(frame.f_code)

    def __enter__(self) -> ImportWatch:
        if self.names:
            threading.setprofile(self._profile)
            sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(None)
        threading.setprofile(None)

    def ran(self, module: types.ModuleType) -> set[str]:
        found = set()
        for name in self.names:
            target = getattr(module, name, None)
            try:
                code = getattr(inspect.unwrap(target), "__code__", None) if callable(target) else None
            except ValueError:  # a __wrapped__ cycle: fall back to the name
                code = None
            if code in self._codes or any(c.co_name == name for c in self._codes):
                found.add(name)
        return found


# -- the examiner's objects, as the learner's code sees them ---------------------------------


class Foreign:
    """Base of every stand-in for an object of the examiner's (a seam, a fake's result)."""

    __slots__ = ("_docchat_ref", "_docchat_host", "_docchat_repr")

    def __repr__(self) -> str:
        return self._docchat_repr


def make_foreign(host: Host, ref: int, meta: dict) -> Any:
    kind = meta.get("kind")
    if kind == "fn":
        return _function(host, ref, meta)
    cls = {"obj": ForeignObject, "awaitable": ForeignAwaitable, "aiter": ForeignAsyncIterator}.get(kind, Opaque)
    obj = object.__new__(cls)
    obj._docchat_ref, obj._docchat_host, obj._docchat_repr = ref, host, str(meta.get("repr", "<grader object>"))
    if cls is ForeignObject:
        obj._methods = dict(meta.get("methods") or {})
        obj._values = dict(meta.get("values") or {})
    return obj


def _function(host: Host, ref: int, meta: dict) -> Any:
    params = [inspect.Parameter(str(p), inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in meta.get("params") or []]
    if meta.get("async"):
        async def seam(*args, **kwargs):
            return await awaited(host.forward("invoke", ref=ref, args=list(args), kwargs=kwargs))
    else:
        def seam(*args, **kwargs):
            return waited(host.forward("invoke", ref=ref, args=list(args), kwargs=kwargs))
    seam.__signature__ = inspect.Signature(params) if meta.get("params") is not None else inspect.Signature(
        [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
         inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD)])
    seam.__name__ = seam.__qualname__ = str(meta.get("name", "seam"))
    seam.__docchat_foreign__ = ref
    return seam


_raised: dict[str, type] = {}


def rebuilt(error: wire.RemoteError) -> BaseException:
    """The exception a seam raised in the examiner, as the learner's code should see it."""
    obj = error.info.get("obj")
    if error.kind == "raise" and isinstance(obj, BaseException):
        return obj  # one of the learner's own exceptions, made in this process
    message = str(error.info.get("message", ""))
    kind = getattr(__import__("builtins"), error.kind, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        return kind(message)
    name = error.kind if error.kind.isidentifier() else "GraderError"
    if name not in _raised:
        _raised[name] = type(name, (Exception,), {"__module__": "grader"})
    return _raised[name](message)


def waited(future: Future) -> Any:
    try:
        return future.result()
    except wire.RemoteError as exc:
        raise rebuilt(exc) from None


async def awaited(future: Future) -> Any:
    try:
        return await asyncio.wrap_future(future)
    except wire.RemoteError as exc:
        raise rebuilt(exc) from None
    except asyncio.CancelledError:
        PEER.cancel(future)  # as a cancelled await would stop the grader's own coroutine
        raise


class Opaque(Foreign):
    __slots__ = ()


class ForeignObject(Foreign):
    __slots__ = ("_methods", "_values")

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        kind = self._methods.get(name)
        if kind is None:
            raise AttributeError(f"{self._docchat_repr} has no attribute {name!r}")
        host, ref = self._docchat_host, self._docchat_ref
        if kind == "async":
            async def method(*args, **kwargs):
                return await awaited(host.forward("method", ref=ref, name=name, args=list(args), kwargs=kwargs))
        else:
            def method(*args, **kwargs):
                return waited(host.forward("method", ref=ref, name=name, args=list(args), kwargs=kwargs))
        method.__name__ = name
        return method


class ForeignAwaitable(Foreign):
    __slots__ = ()

    def __await__(self):
        return awaited(self._docchat_host.forward("await", ref=self._docchat_ref)).__await__()

    def close(self) -> None:
        """Like a coroutine's close(): the examiner's coroutine is dropped unawaited."""


class ForeignAsyncIterator(Foreign):
    __slots__ = ()

    def __aiter__(self):
        return self

    async def __anext__(self):
        step = await awaited(self._docchat_host.forward("anext", ref=self._docchat_ref))
        if step.get("done"):
            object.__setattr__(self, "_docchat_repr", "")  # finished: nothing to close
            raise StopAsyncIteration
        return step["value"]

    async def aclose(self) -> None:
        object.__setattr__(self, "_docchat_repr", "")
        await awaited(self._docchat_host.forward("aclose", ref=self._docchat_ref))

    def __del__(self) -> None:
        # Dropped half-way, as a real async generator would be finalised: the grader's is closed.
        if self._docchat_repr:
            try:
                self._docchat_host.forward("aclose", ref=self._docchat_ref)
            except Exception:  # noqa: BLE001 - the examiner is gone: nothing to close
                pass


# -- the template ----------------------------------------------------------------------------


def limit(memory_mb: int, file_mb: int, processes: int) -> None:
    for kind, value in ((resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_FSIZE, file_mb << 20),
                        (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NOFILE, 256),
                        (resource.RLIMIT_NPROC, processes)):
        try:
            _, hard = resource.getrlimit(kind)
            resource.setrlimit(kind, (value if hard == resource.RLIM_INFINITY else min(value, hard),
                                      value if hard == resource.RLIM_INFINITY else min(value, hard)))
        except (ValueError, OSError):
            pass


def template(control: socket.socket, args: argparse.Namespace) -> None:
    """Fork an app host for each socket that arrives; kill what each one leaves behind."""
    for name in (*WARM, *filter(None, args.preload.split(","))):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - not installed: imported (or not) by the learner instead
            pass
    from grader.engine import warmup

    warmup.warm()
    if args.seed:
        from grader.engine import determinism

        determinism.install(args.seed)
    from grader.engine import sandbox

    confined = args.backend == "landlock"
    if args.backend == "bubblewrap":  # where the kernel has Landlock, each app host writes only in its check's folder
        from grader.engine import confine

        confined = confine.available()
    sandbox.become_subreaper()
    sandbox.non_dumpable()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    gc.freeze()  # the app hosts' collections skip what the template built: fewer pages copied
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 256, 2)
        except OSError:
            break
        if message == RESET:  # a lane's grade ended: nothing of it may reach the next one
            for fd in fds:
                os.close(fd)
            sandbox.end_descendants()
            if args.backend == "bubblewrap":  # its own /tmp and /dev/shm, not the machine's
                for folder in ("/tmp", "/dev/shm"):
                    _empty(folder)
            control.sendall(b"r")
            continue
        if not message or not fds:
            break
        cwd = message.decode(errors="replace")
        pid = os.fork()
        if pid == 0:
            control.close()
            os.setsid()
            try:
                child(socket.socket(fileno=fds[0]), cwd, args, confined)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        control.sendall(str(pid).encode() + b"\n")
    # The examiner is gone (or done): everything the learner's code started is below us.
    sandbox.end_descendants()
    os._exit(0)


RESET = b"\0reset"


def _empty(folder: str) -> None:
    import shutil

    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if os.path.ismount(entry.path):  # the lane's own folder, bound in: its lane empties it
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def child(sock: socket.socket, cwd: str, args: argparse.Namespace, confined: bool) -> None:
    """One app host, just forked: confined (`confined`: with Landlock), limited, then serving."""
    sandbox_note = ""
    try:
        os.chdir(cwd)
        writable = _writable(cwd, args.backend)
        if os.geteuid() == 0 and args.backend != "bubblewrap" and _readable_by_all(sys.base_prefix, sys.prefix):
            drop_root([*writable, cwd])
        if confined:
            from grader.engine import confine

            paths = confine.python_paths() + [str(Path(__file__).resolve().parents[1])]
            confine.confine(read_only=paths, read_write=[*writable, "/dev/null"])
        limit(args.memory_mb, args.file_mb, 64)
    except Exception as exc:  # noqa: BLE001 - refuse to run the learner's code half-confined
        sandbox_note = f"{type(exc).__name__}: {exc}"
    if sandbox_note:
        sock.sendall(b"!" + sandbox_note.encode()[:1000])
        return
    sock.sendall(b"+")
    Host(sock).run()


def _writable(cwd: str, backend: str) -> list[str]:
    """Where this app host may write, HOME and TMPDIR set to two of them: the folder of its
    check (the working folder's parent, made for that check alone), and a HOME and TMPDIR the
    grade's checks share, where no check looks (bubblewrap's own /tmp, capped and emptied
    after each grade; not its /dev/shm, beneath which the scratch folders may be bound, as
    Landlock rules go by path)."""
    import tempfile

    own = Path(cwd).parent
    shared = {"HOME": own.parent / "home"}
    if backend != "bubblewrap":
        shared["TMPDIR"] = own.parent / "tmp"
    for var, folder in shared.items():
        folder.mkdir(exist_ok=True)
        os.environ[var] = str(folder)
    if backend == "bubblewrap":
        os.environ["TMPDIR"] = "/tmp"
    tempfile.tempdir = None  # chosen again, from TMPDIR
    return [str(own), os.environ["HOME"], os.environ["TMPDIR"]]


NOBODY = 65534


def _readable_by_all(*paths: str) -> bool:
    """Every folder on the way to these paths lets any user through (so Python runs as nobody)."""
    for path in paths:
        for folder in [*Path(path).resolve().parents, Path(path).resolve()]:
            try:
                if not folder.stat().st_mode & 0o001:
                    return False
            except OSError:
                return False
    return True


def drop_root(writable: list[str]) -> None:
    """Started as root (Gradescope, CI): become nobody, owning only the folders it may write."""
    for folder in writable:
        os.chown(folder, NOBODY, NOBODY)
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="grader.engine.apphost")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--backend", default="none")
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--file-mb", type=int, default=512)
    parser.add_argument("--seed", default="")
    parser.add_argument("--preload", default="", help="more modules to import before forking (the drills')")
    args = parser.parse_args(argv)
    template(socket.socket(fileno=args.control), args)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        os._exit(1)
