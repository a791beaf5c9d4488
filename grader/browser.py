"""A headless Chromium the grader drives over the DevTools protocol, on a pipe.

Only a Chromium already installed is used (Debian: `apt-get install chromium`); nothing is
downloaded. `--remote-debugging-pipe` speaks the protocol over file descriptors 3 and 4 (one
JSON message per NUL-terminated line), so there is no port to find and no driver or
websocket library to install, and the grader can wait for a real condition in the page
rather than a time budget. Every wait has a deadline.

A single grade starts its own browser (`open_browser`) and kills its whole process group when
done. A batch keeps a few warm browsers (`BrowserPool`: one, more only when the grades that
need one would otherwise hold the batch up; at most one per core), each kept for many grades
(`SharedBrowser`: about 1 s of CPU saved per page). A lane borrows one for a grade and lends
the grading process its pipe ends (`lend_to`, named in DOCCHAT_BROWSER_FDS); before the next
grade the browser's one tab is blanked, any other closed and cookies cleared, or a new browser
started when the old one died or stopped answering (a grade killed mid-message can leave its
pipe garbled).
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from grader.engine.sandbox import children, descendants, end_tree, kill

EXECUTABLES = ("chromium", "chromium-browser")
LENT_VAR = "DOCCHAT_BROWSER_FDS"  # "command,response": the pipe ends of a browser lent to this process
TIDY_S = 5.0  # seconds a lent browser may take to be tidied between grades
ANSWER_S = 0.3  # what the browser may take to answer a command, within the deadline
SETTLE_S = 1.0  # a page whose text stays the same this long, nothing running, is done changing
# Headless, as root in a container, and quiet: no sandbox (root), no GPU, no first-run UI,
# no network traffic of its own (updates, sync, QUIC, proxies), /tmp instead of a small /dev/shm.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--no-proxy-server", "--mute-audio", "--password-store=basic",
    "--remote-debugging-pipe",
    # A page left for the next (blanking a lent browser between grades, a form submitted) ends,
    # rather than living on in the back-forward cache: nothing of one grade's page outlasts it,
    # and a visit costs about half the browser's CPU (150 -> 80 ms, measured).
    "--disable-back-forward-cache",
)


# What the page shows: its text, plus what sits in text areas.
PAGE_TEXT = ("(document.body ? document.body.innerText : '') + "
             "[...document.querySelectorAll('textarea')].map(t => '\\n' + t.value).join('')")
# Resolves with the page's text once `found` (an expression of `text`) holds, or after `ms` ms.
WAIT_FOR_TEXT = """new Promise(resolve => {
  const end = Date.now() + %(ms)d;
  const tick = () => {
    const text = %(text)s;
    if (%(found)s || Date.now() > end) resolve(text); else setTimeout(tick, 25);
  };
  tick();
})"""
# Types the question in the page's first text field and submits it; says what it did.
ASK = """(() => {
  const field = document.querySelector("textarea, input:not([type]), input[type=text], input[type=search]");
  if (field) { field.value = %(question)s; field.dispatchEvent(new Event("input", {bubbles: true})); }
  const form = (field && field.form) || document.querySelector("form");
  const button = (form || document).querySelector("button, input[type=submit]");
  if (button) { button.click(); return "typed the question and clicked the button"; }
  if (form) { form.requestSubmit(); return "typed the question and submitted the form"; }
  if (field) {
    field.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    return "typed the question and pressed Enter";
  }
  return "";
})()"""

# Submits the form of the page's file field (the file already chosen); says what it did.
SUBMIT_FILE = """(() => {
  const field = document.querySelector("input[type=file]");
  const button = field.form && field.form.querySelector("button, input[type=submit]");
  if (button) { button.click(); return "chose the file and clicked its form's button"; }
  if (field.form) { field.form.requestSubmit(); return "chose the file and submitted its form"; }
  return "chose the file in the file field (it has no form to submit)";
})()"""

class BrowserError(Exception):
    """Chromium could not be started or driven (not the page's fault)."""


class PageError(BrowserError):
    """The browser answered, but a command failed in the page (it navigated, or a script threw)."""


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, EXECUTABLES)), None)


def _high(fd: int) -> int:
    """Move `fd` above 10 so that placing the pipe ends at 3 and 4 cannot clobber each other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium process with its own profile, and the pipe ends that drive it."""

    def __init__(self, executable: str, profile: Path, *, start: bool = True) -> None:
        """`start=False`: the pipes are made (and can be lent) now, the process when `start()` is called."""
        self.executable, self.profile = executable, profile
        self.profile.mkdir(parents=True, exist_ok=True)
        cmd_r, self.cmd_w = map(_high, os.pipe())
        self.resp_r, resp_w = map(_high, os.pipe())
        self._its_ends: tuple[int, int] | None = (cmd_r, resp_w)
        self.proc: subprocess.Popen | None = None
        if start:
            try:
                self.start()
            except BrowserError:
                self.close()
                raise

    def start(self) -> None:
        """Start the process, once, on the pipes made with this object."""
        if self._its_ends is None:
            return
        cmd_r, resp_w = self._its_ends
        self._its_ends = None

        def in_child() -> None:  # only async-signal-safe calls: the grader has threads
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)
            # The grader caps the learner's memory with a soft RLIMIT_DATA; a browser needs more.
            _, hard = resource.getrlimit(resource.RLIMIT_DATA)
            resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))

        try:
            with (self.profile / "chromium.log").open("wb") as log:
                self.proc = subprocess.Popen(
                    [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(3, 4),
                    preexec_fn=in_child, start_new_session=True,
                    # what it keeps under $HOME (crash reports, caches) goes with the profile
                    env={**os.environ, "HOME": str(self.profile)})
        except OSError as exc:
            raise BrowserError(f"could not start {self.executable}: {exc}") from exc
        finally:
            os.close(cmd_r)
            os.close(resp_w)

    def devtools(self, deadline: float) -> DevTools:
        return DevTools(self.cmd_w, self.resp_r, deadline=deadline, log=self.log_tail)

    @property
    def started(self) -> bool:
        return self._its_ends is None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self) -> str:
        try:
            tail = (self.profile / "chromium.log").read_text(errors="replace").strip()[-300:]
        except OSError:
            return ""
        return f": {tail}" if tail else ""

    def close(self) -> None:
        """Kill the browser's whole process group (closing the pipe alone would also end it)."""
        for fd in (self.cmd_w, self.resp_r, *(self._its_ends or ())):
            os.close(fd)
        self._its_ends = None
        if self.proc is None:
            return
        # Its crash handler is a daemon: we, a subreaper, are its parent, not the browser.
        handlers = [pid for pid in children() if str(self.profile).encode() in _command_line(pid)]
        below = descendants(self.proc.pid)  # to reap, once ours: the group's kill orphans them
        try:
            # The whole group at once: a helper forked while the tree is walked dies too, rather
            # than go on writing to the profile about to be removed.
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        for pid in handlers:
            kill(pid)
        end_tree(self.proc, also=[*handlers, *below])


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextmanager
def open_browser(executable: str, profile: Path, *, deadline: float) -> Iterator[DevTools]:
    """A browser for one grade: the one lent to this process, else a new one of its own."""
    lent = os.environ.get(LENT_VAR, "")
    if lent:
        cmd_w, resp_r = (int(fd) for fd in lent.split(","))
        tools = DevTools(cmd_w, resp_r, deadline=deadline)
        try:
            yield tools
        finally:
            try:
                tools.leave()
            except BrowserError:
                pass  # the lender tidies (or replaces) the browser before the next grade
        return
    browser = Chromium(executable, profile)
    try:
        yield browser.devtools(deadline)
    finally:
        browser.close()


class SharedBrowser:
    """A browser kept for many grades of a batch, and handed to each one clean."""

    def __init__(self, executable: str, *, deferred: bool = False) -> None:
        """`deferred`: a new browser is lent before it runs, and started by `start()`."""
        self.executable, self.deferred = executable, deferred
        self._browser: Chromium | None = None
        self._profile: tempfile.TemporaryDirectory | None = None

    def lend(self) -> tuple[int, int]:
        """The pipe ends (command, response) of a tidy, running browser (deferred: of one that
        runs once `start()` is called)."""
        if self._browser is not None and self._browser.started:
            try:
                self._tidy(self._browser.devtools(time.monotonic() + TIDY_S))
            except (BrowserError, OSError, ValueError):
                self.close()
        if self._browser is None:
            self._profile = tempfile.TemporaryDirectory(prefix="docchat-chromium-")
            self._browser = Chromium(self.executable, Path(self._profile.name), start=not self.deferred)
        return self._browser.cmd_w, self._browser.resp_r

    def start(self) -> None:
        """Start the browser lent before it ran (nothing if there is none, or it runs)."""
        if self._browser is not None:
            try:
                self._browser.start()
            except BrowserError:
                self.close()  # the check that needs it says it could not reach a browser

    def _tidy(self, tools: DevTools) -> None:
        """Blank what the last grade left open; its first answer also drains the pipe of old ones."""
        if not self._browser.alive():
            raise BrowserError("Chromium exited")
        tools.blank()
        tools.send("Storage.clearCookies")

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None


def lend_to(launcher, shared: SharedBrowser | None) -> None:
    """Lend the grading processes `launcher` starts from now on `shared`, tidied (or restarted);
    without one, or when it cannot start, their browser check starts a browser of its own
    (and says so if that fails too)."""
    try:
        fds = shared.lend() if shared is not None else ()
    except BrowserError:
        fds = ()
    launcher.lend(fds, var=LENT_VAR)


class BrowserPool:
    """Shared browsers for any number of batch lanes: a lane takes one for a grade, then puts it
    back. It starts with one and may grow to `most` (each is started only when first lent)."""

    def __init__(self, executable: str, most: int) -> None:
        self.executable, self.most = executable, max(1, most)
        self._all = [SharedBrowser(executable)]
        self._free: queue.SimpleQueue[SharedBrowser] = queue.SimpleQueue()
        self._free.put(self._all[0])

    @property
    def size(self) -> int:
        return len(self._all)

    def grow(self) -> bool:
        """Add a browser, if under `most`. Called by one thread at a time (the job queue's)."""
        if len(self._all) >= self.most:
            return False
        self._all.append(SharedBrowser(self.executable))
        self._free.put(self._all[-1])
        return True

    def try_take(self) -> SharedBrowser | None:
        """A free browser, or None when every one is out."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return None

    def put(self, shared: SharedBrowser) -> None:
        self._free.put(shared)

    def close(self) -> None:
        for shared in self._all:
            shared.close()


class DevTools:
    """The DevTools protocol over a browser's pipe: one JSON message per NUL-terminated line."""

    def __init__(self, cmd_w: int, resp_r: int, *, deadline: float,
                 log: Callable[[], str] = lambda: "") -> None:
        self._cmd_w, self._resp_r, self.deadline, self._log_tail = cmd_w, resp_r, deadline, log
        self.events: list[dict] = []
        self.sessions: set[str] = set()
        # Ids of our own: a grade killed mid-command on a lent browser can leave an answer behind.
        self._ids = iter(range(os.getpid() % 1000 * 100_000 + 1, 1 << 30))
        self._buffer = b""

    # -- the protocol ------------------------------------------------------------------

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._cmd_w, data):]
        except OSError as exc:
            raise BrowserError(f"Chromium stopped listening ({exc}){self._log_tail()}") from exc
        while True:
            reply = self._next()
            if reply.get("id") == message["id"]:
                if "error" in reply:
                    raise PageError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self._keep(reply)

    def _keep(self, message: dict) -> None:
        """Keep an event from one of our pages (not an answer someone else's command left behind)."""
        if "method" in message and message.get("sessionId") in self.sessions:
            self.events.append(message)

    def _next(self, until: float | None = None) -> dict:
        """The next message; BrowserError past the deadline, TimeoutError past `until`."""
        while True:
            while b"\0" not in self._buffer:
                left = min(self.deadline, until or self.deadline) - time.monotonic()
                if left <= 0 and time.monotonic() >= self.deadline:
                    raise BrowserError("Chromium did not answer in time")
                if left <= 0:
                    raise TimeoutError
                ready, _, _ = select.select([self._resp_r], [], [], left)
                if ready:
                    chunk = os.read(self._resp_r, 1 << 16)
                    if not chunk:
                        raise BrowserError(f"Chromium exited{self._log_tail()}")
                    self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\0", 1)
            try:
                message = json.loads(line)
            except ValueError:
                continue  # the tail of a message a killed grade had half read from a lent browser
            if isinstance(message, dict):
                return message

    # -- pages ---------------------------------------------------------------------------

    def open(self, url: str) -> str:
        """Open `url` in the browser's tab, watching its console, errors and network; return its session.

        The tab is reused (a lent browser keeps one between grades), so whatever the domains
        replay from before the new page (old console messages) is dropped.
        """
        pages = self._pages()
        target = pages[0] if pages else self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.sessions.add(session)
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        return session

    def _pages(self) -> list[str]:
        return [t["targetId"] for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page"]

    def leave(self) -> None:
        """Stop watching the pages this connection opened (the browser goes on)."""
        for session in self.sessions:
            self.send("Target.detachFromTarget", {"sessionId": session})
        self.sessions.clear()

    def blank(self) -> None:
        """Leave one tab, showing about:blank (nothing of the last page still running); close the rest."""
        pages = self._pages()
        for extra in pages[1:]:
            self.send("Target.closeTarget", {"targetId": extra})
        if pages:
            session = self.send("Target.attachToTarget", {"targetId": pages[0], "flatten": True})["sessionId"]
            self.sessions.add(session)
            self.send("Page.enable", session=session)
            self.send("Page.navigate", {"url": "about:blank"}, session=session)
            # loaded now, so that its load event cannot be taken for the next grade's page
            self.wait_event("Page.loadEventFired", TIDY_S)
            self.leave()
            self.events.clear()

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=session)
        if "exceptionDetails" in result:
            raise PageError(result["exceptionDetails"].get("text", "script error"))
        return result.get("result", {}).get("value")

    def _wait_until(self, condition: Callable[[], bool], seconds: float) -> bool:
        """Read the browser's events until `condition()` holds (True) or `seconds` pass (False)."""
        end = min(self.deadline, time.monotonic() + seconds)
        while not condition():
            if time.monotonic() >= end:
                return False
            try:
                self._keep(self._next(end))
            except TimeoutError:
                return False
        return True

    def wait_event(self, method: str, seconds: float) -> bool:
        """Wait (at most `seconds`) until the browser has reported an event named `method`."""
        return self._wait_until(lambda: any(e.get("method") == method for e in self.events), seconds)

    def text(self, session: str) -> str:
        """What the page shows now."""
        return self.evaluate(session, PAGE_TEXT) or ""

    def loading(self) -> int:
        """How many of the page's requests have neither finished nor failed yet."""
        started, ended = set(), set()
        for event in self.events:
            method = event.get("method")
            if method == "Network.requestWillBeSent":
                started.add(event["params"]["requestId"])
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                ended.add(event["params"]["requestId"])
        return len(started - ended)

    def wait_loaded(self, seconds: float) -> bool:
        """Wait (at most `seconds`) until none of the page's requests is still loading."""
        return self._wait_until(lambda: not self.loading(), seconds)

    def wait_for_text(self, session: str, want: str | None, seconds: float,
                      settled: Callable[[], bool] = lambda: False, still_s: float = SETTLE_S) -> str:
        """Wait until the page shows `want` (or `seconds` pass); return the page's text then.

        Polled in slices, so a page that navigates (a form submitted) is followed. Gives up
        early once nothing more can come: `settled()` (say, the server has no request open)
        held while the page's text stayed the same for `still_s`.
        With `want` None, that is what it waits for.
        """
        end = min(self.deadline, time.monotonic() + seconds) - ANSWER_S  # room for the last answer
        found = "false" if want is None else f"text.includes({json.dumps(want)})"
        text, same_since = "", time.monotonic()
        while True:
            before = text
            ms = max(0, min(int(still_s * 500), int((end - time.monotonic()) * 1000)))
            try:
                text = self.evaluate(session, WAIT_FOR_TEXT % {"ms": ms, "text": PAGE_TEXT, "found": found}) or ""
            except PageError:
                pass  # the page was navigating (a form submitted): try the new one
            now = time.monotonic()
            if text != before or not settled():
                same_since = now
            if (want is not None and want in text) or now >= end or now - same_since >= still_s:
                return text

    def ask(self, session: str, question: str) -> str:
        """Type `question` into the page and submit it, as a user would; say how (or '')."""
        try:
            return self.evaluate(session, ASK % {"question": json.dumps(question)}) or ""
        except BrowserError:
            return ""

    def upload(self, session: str, path: Path) -> str:
        """Choose `path` in the page's first file field and submit its form, as a user would;
        say how ('' when the page has no file field)."""
        field = self.send("Runtime.evaluate", {"expression": "document.querySelector('input[type=file]')"},
                          session=session).get("result", {})
        if not field.get("objectId"):
            return ""
        self.send("DOM.setFileInputFiles", {"files": [str(path)], "objectId": field["objectId"]}, session=session)
        return self.evaluate(session, SUBMIT_FILE) or ""

    def page_problems(self) -> list[str]:
        """Script errors, console errors and failed loads the page has reported so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                found.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = params.get("args", [])
                found.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                if entry.get("url", "").endswith("/favicon.ico"):
                    continue  # browsers ask for one; a missing icon is no fault of the page
                found.append(f"{entry.get('text', '')} ({entry.get('url', '')})".replace(" ()", ""))
        return [line.splitlines()[0] if line else line for line in found]

    def responses(self) -> list[tuple[str, int, str]]:
        """(url, status, resource type) of every response the page received so far."""
        received = [e["params"] for e in self.events if e.get("method") == "Network.responseReceived"]
        return [(p["response"]["url"], p["response"]["status"], p.get("type", "")) for p in received]
