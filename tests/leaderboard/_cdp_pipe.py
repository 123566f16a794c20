"""A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

Chromium reads NUL-terminated JSON commands from file descriptor 3 and writes responses
and events to file descriptor 4 (what Puppeteer's ``pipe: true`` uses), so a real headless
browser can be driven from the standard library alone: no websocket client, no selenium.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["find_chromium", "Browser", "CDPError"]


class CDPError(RuntimeError):
    """The browser answered a command with an error, died, or timed out."""


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable, or None."""
    env = os.environ.get("VISIONBENCH_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """A headless Chromium with one page attached (flattened session).

    Use as a context manager; events of the page are collected in :attr:`events`.
    """

    def __init__(self, executable: str, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        self._buf = b""
        self._profile = tempfile.mkdtemp(prefix="vb-chromium-")
        cmd_r, self._cmd_w = os.pipe()  # we write commands; the browser reads fd 3
        self._out_r, out_w = os.pipe()  # the browser writes fd 4; we read

        def child_fds() -> None:  # runs in the child between fork and exec
            hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--mute-audio",
            f"--user-data-dir={self._profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_fds,  # noqa: PLW1509 - single-threaded test process
            close_fds=False,
        )
        os.close(cmd_r)
        os.close(out_w)
        try:
            target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
            self.session: str = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.page(f"{domain}.enable")
        except BaseException:
            self.close()
            raise

    # -- protocol -----------------------------------------------------------------------
    def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its answer (events that arrive meanwhile are kept)."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def page(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command for the attached page."""
        return self.send(method, params, session=self.session)

    def wait_event(self, *methods: str, since: int = 0) -> dict[str, Any]:
        """The first event named in ``methods`` at index ``since`` or later of
        :attr:`events`, reading from the browser until one arrives."""
        deadline = time.monotonic() + self.timeout
        i = since
        while True:
            while i < len(self.events):
                if self.events[i]["method"] in methods:
                    return self.events[i]
                i += 1
            msg = self._read(deadline)
            if "method" in msg:
                self.events.append(msg)

    def open(self, url: str) -> None:
        """Navigate and wait for the load event; dialogs (``alert``) that open on the way
        are recorded (see :meth:`problems`) and dismissed. A URL with a ``#fragment``
        goes through ``about:blank`` first, so that it is a fresh load, not a same-page
        fragment navigation (which fires no load event)."""
        if "#" in url:
            self.open("about:blank")
        since = len(self.events)
        self.page("Page.navigate", {"url": url})
        while True:
            ev = self.wait_event("Page.loadEventFired", "Page.javascriptDialogOpening", since=since)
            since = self.events.index(ev) + 1
            if ev["method"] == "Page.loadEventFired":
                return
            self.page("Page.handleJavaScriptDialog", {"accept": True})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        res = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in res:
            raise CDPError(f"evaluate {expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def drain(self, seconds: float = 0.3) -> None:
        """Collect the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                msg = self._read(deadline)
                if "method" in msg:
                    self.events.append(msg)
        except TimeoutError:
            pass

    # -- what went wrong ----------------------------------------------------------------
    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries (CSP violations, failed
        loads) and dialogs (``alert``) seen so far, as text."""
        out = []
        for ev in self.events:
            m, p = ev["method"], ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(
                    f"exception: {d.get('exception', {}).get('description') or d.get('text')}"
                )
            elif m == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "assert",
                "warning",
            ):
                text = " ".join(
                    str(a.get("value", a.get("description"))) for a in p.get("args", [])
                )
                out.append(f"console.{p['type']}: {text}")
            elif m == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
                out.append(f"log {p['entry'].get('source')}: {p['entry'].get('text')}")
            elif m == "Page.javascriptDialogOpening":
                out.append(f"dialog {p.get('type')}: {p.get('message')}")
        return out

    def requests(self) -> list[str]:
        """URLs of every request the page made."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    # -- plumbing -----------------------------------------------------------------------
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the browser in time")
            ready, _, _ = select.select([self._out_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._out_r, 1 << 16)
            if not chunk:
                raise CDPError(f"the browser closed the pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close")
                except (CDPError, TimeoutError, OSError):
                    pass
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        finally:
            for fd in (self._cmd_w, self._out_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def file_url(path: Path) -> str:
    return path.resolve().as_uri()
