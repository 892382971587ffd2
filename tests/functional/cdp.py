"""Headless Chromium driven over the DevTools protocol, for the report's browser tests.

Debian's Chromium, started with `--remote-debugging-port=0`, prints the browser's
WebSocket address on stderr; websocket-client talks to it. One page (a target attached
in "flat" mode) is all the tests need: navigate, evaluate, click, read the clipboard,
set the viewport, take a screenshot. Every console message, uncaught exception and
browser log entry (a Content-Security-Policy violation is one) is kept, so a test can
require that a page logged none.

Nothing waits on the wall clock: each call reads messages until its own answer (or the
event it waits for) arrives, with a socket timeout only as a guard against a hung
browser.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

# Headless, sandbox-free (root in CI) and quiet: nothing reaches the network.
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLAGS = [
    *HEADLESS,
    "--hide-scrollbars",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]
GUARD_SECONDS = 120  # a browser that answers nothing for this long has hung


class BrowserError(AssertionError):
    """The browser refused a command, or a script in the page threw."""


class Page:
    """One tab, attached over the browser's connection."""

    def __init__(self, connection: websocket.WebSocket, session: str) -> None:
        self.connection = connection
        self.session = session
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.problems: list[str] = []  # console messages, exceptions, log entries

    def _read(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv())
        if "method" in message:
            self.events.append(message)
            self._note(message)
        return message

    def _note(self, event: dict[str, Any]) -> None:
        params = event.get("params", {})
        if event["method"] == "Runtime.consoleAPICalled":
            texts = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
            self.problems.append(f"console.{params['type']}: {' '.join(texts)}")
        elif event["method"] == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.problems.append(f"exception: {text}")
        elif event["method"] == "Log.entryAdded":
            entry = params["entry"]
            self.problems.append(f"{entry['source']} {entry['level']}: {entry['text']}")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        wanted = self.next_id
        request = {"id": wanted, "method": method, "params": params, "sessionId": self.session}
        self.connection.send(json.dumps(request))
        return self.answer(wanted, method)

    def answer(self, wanted: int, method: str) -> dict[str, Any]:
        """The result of command `wanted` (events read meanwhile are kept), or BrowserError."""
        while True:
            message = self._read()
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first `method` event not yet waited for (one already received counts)."""
        for index, event in enumerate(self.events):
            if event["method"] == method:
                del self.events[index]
                return event
        while True:
            message = self._read()
            if message.get("method") == method:
                self.events.remove(message)
                return message

    def evaluate(self, expression: str, *, gesture: bool = False) -> Any:
        """The value of `expression` (a promise is awaited), or BrowserError if it threw."""
        result = self.call(
            "Runtime.evaluate",
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
            userGesture=gesture,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(details.get("exception", {}).get("description") or str(details))
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Load `url` and wait for its load event."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        answer = self.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self.wait_for("Page.loadEventFired")

    def before_every_script(self, source: str) -> None:
        """Run `source` in every document before its own scripts (CSP does not apply)."""
        self.call("Page.addScriptToEvaluateOnNewDocument", source=source)

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element: a user gesture, as a person's."""
        # Measured two frames after the scroll: rows laid out only once near the screen
        # (content-visibility) may move what is below them when they are.
        box = self.evaluate(
            "new Promise(function (done) {"
            f" var e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'});"
            " requestAnimationFrame(function () { requestAnimationFrame(function () {"
            " e.scrollIntoView({block: 'center'}); var r = e.getBoundingClientRect();"
            " done([r.left + r.width / 2, r.top + r.height / 2]); }); }); })"
        )
        x, y = box
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_text(self, selector: str, text: str) -> None:
        """Click into the field and type `text` as a keyboard would (one input event each)."""
        self.click(selector)
        for character in text:
            self.call("Input.insertText", text=character)

    def screenshot(self, path: Path) -> None:
        """The whole page, not just the viewport, as a PNG."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))


@contextmanager
def browser(chromium: str, profile: Path) -> Iterator[tuple[Page, websocket.WebSocket]]:
    """Chromium with one blank page attached; the browser connection too, for
    browser-wide commands (permissions)."""
    process = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        address = _devtools_address(process)
        # Keep reading its stderr, so that a chatty browser never blocks on a full pipe.
        threading.Thread(target=_drain, args=(process,), daemon=True).start()
        connection = websocket.create_connection(address, timeout=GUARD_SECONDS)
        try:
            bootstrap = Page(connection, "")
            target = _browser_call(bootstrap, "Target.createTarget", url="about:blank")
            attached = _browser_call(
                bootstrap, "Target.attachToTarget", targetId=target["targetId"], flatten=True
            )
            page = Page(connection, attached["sessionId"])
            for domain in ("Page", "Runtime", "Log"):
                page.call(f"{domain}.enable")
            yield page, connection
        finally:
            connection.close()
    finally:
        process.kill()
        process.wait(timeout=GUARD_SECONDS)


def grant_clipboard(page: Page, origin: str) -> None:
    """Let pages of `origin` read and write the clipboard, as a person allowing it would."""
    _browser_call(
        page,
        "Browser.grantPermissions",
        origin=origin,
        permissions=["clipboardReadWrite", "clipboardSanitizedWrite"],
    )


def _browser_call(page: Page, method: str, **params: Any) -> dict[str, Any]:
    """A command to the browser itself (no session)."""
    page.next_id += 1
    wanted = page.next_id + 1_000_000  # apart from the page's own ids
    page.connection.send(json.dumps({"id": wanted, "method": method, "params": params}))
    return page.answer(wanted, method)


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    for _line in process.stderr:
        pass


def _devtools_address(process: subprocess.Popen[str]) -> str:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.startswith("DevTools listening on "):
            return line.removeprefix("DevTools listening on ").strip()
    raise BrowserError("chromium exited before it listened: " + "".join(seen)[-3000:])
