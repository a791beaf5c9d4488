"""A headless Chromium the grader drives over the DevTools protocol, on a pipe.

Only a Chromium already installed is used (Debian: `apt-get install chromium`); nothing is
downloaded. `--remote-debugging-pipe` speaks the protocol over file descriptors 3 and 4 (one
JSON message per NUL-terminated line), so there is no port to find and no driver or
websocket library to install, and the grader can wait for a real condition in the page
rather than a time budget. Every wait has a deadline; leaving the `with` block kills the
browser's whole process group.
"""

from __future__ import annotations

import fcntl
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

EXECUTABLES = ("chromium", "chromium-browser")
# Headless, as root in a container, and quiet: no sandbox (root), no GPU, no first-run UI,
# no network traffic of its own (updates, sync, QUIC, proxies), /tmp instead of a small /dev/shm.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--no-proxy-server", "--mute-audio", "--password-store=basic",
    "--remote-debugging-pipe",
)


# What the page shows: its text, plus what sits in text areas.
PAGE_TEXT = ("(document.body ? document.body.innerText : '') + "
             "[...document.querySelectorAll('textarea')].map(t => '\\n' + t.value).join('')")
# Resolves with the page's text once it holds `want`, or after `ms` milliseconds.
WAIT_FOR_TEXT = """new Promise(resolve => {
  const end = Date.now() + %(ms)d;
  const tick = () => {
    const text = %(text)s;
    if (text.includes(%(want)s) || Date.now() > end) resolve(text); else setTimeout(tick, 25);
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


class BrowserError(Exception):
    """Chromium could not be started or driven (not the page's fault)."""


def find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, EXECUTABLES)), None)


def _high(fd: int) -> int:
    """Move `fd` above 10 so that placing the pipe ends at 3 and 4 cannot clobber each other."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless Chromium with a fresh profile, driven over its DevTools pipe."""

    def __init__(self, executable: str, profile: Path, *, deadline: float) -> None:
        self.executable, self.profile, self.deadline = executable, profile, deadline
        self.events: list[dict] = []
        self._ids = iter(range(1, 1 << 30))
        self._buffer = b""
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> Chromium:
        self.profile.mkdir(parents=True, exist_ok=True)
        cmd_r, self._cmd_w = map(_high, os.pipe())
        self._resp_r, resp_w = map(_high, os.pipe())

        def in_child() -> None:  # only async-signal-safe calls: the grader has threads
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)
            # The grader caps the learner's memory with a soft RLIMIT_DATA; a browser needs more.
            _, hard = resource.getrlimit(resource.RLIMIT_DATA)
            resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))

        with (self.profile / "chromium.log").open("wb") as log:
            try:
                self._proc = subprocess.Popen(
                    [self.executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(3, 4),
                    preexec_fn=in_child, start_new_session=True)
            except OSError as exc:
                raise BrowserError(f"could not start {self.executable}: {exc}") from exc
            finally:
                os.close(cmd_r)
                os.close(resp_w)
        return self

    def __exit__(self, *exc: object) -> None:
        for fd in (self._cmd_w, self._resp_r):
            os.close(fd)
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self._proc.wait(timeout=5)

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
                    raise BrowserError(f"{method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def _next(self, until: float | None = None) -> dict:
        """The next message; BrowserError past the deadline, TimeoutError past `until`."""
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
        return json.loads(line)

    def _log_tail(self) -> str:
        try:
            tail = (self.profile / "chromium.log").read_text(errors="replace").strip()[-300:]
        except OSError:
            return ""
        return f": {tail}" if tail else ""

    # -- pages ---------------------------------------------------------------------------

    def open(self, url: str) -> str:
        """Open `url` in a new tab, watching its console, errors and network; return its session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        return session

    def evaluate(self, session: str, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session=session)
        if "exceptionDetails" in result:
            raise BrowserError(result["exceptionDetails"].get("text", "script error"))
        return result.get("result", {}).get("value")

    def wait_event(self, method: str, seconds: float) -> bool:
        """Wait (at most `seconds`) until the browser has reported an event named `method`."""
        end = min(self.deadline, time.monotonic() + seconds)
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() >= end:
                return False
            try:
                self.events.append(self._next(end))
            except TimeoutError:
                return False
        return True

    def wait_for_text(self, session: str, want: str, seconds: float) -> str:
        """Wait until the page shows `want` (or `seconds` pass); return the page's text then.

        Polled in slices, so a page that navigates (a form submitted) is followed.
        """
        end = min(self.deadline, time.monotonic() + seconds)
        text = ""
        while True:
            ms = max(0, min(500, int((end - time.monotonic()) * 1000)))
            try:
                text = self.evaluate(session, WAIT_FOR_TEXT % {
                    "ms": ms, "text": PAGE_TEXT, "want": json.dumps(want)}) or ""
            except BrowserError:
                if self._proc is None or self._proc.poll() is not None:
                    raise
                # otherwise the page was navigating (a form submitted): try the new one
            if want in text or time.monotonic() >= end:
                return text

    def ask(self, session: str, question: str) -> str:
        """Type `question` into the page and submit it, as a user would; say how (or '')."""
        try:
            return self.evaluate(session, ASK % {"question": json.dumps(question)}) or ""
        except BrowserError:
            return ""

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
