"""A real headless Chromium driven over the DevTools protocol, for the report's layout tests.

``Chromium`` starts Debian's ``chromium`` with a throw-away profile and a DevTools port it
picks itself, opens one page, and records what a person would see go wrong: console messages,
uncaught exceptions, log entries (failed loads, invalid SVG attributes) and every request the
page makes.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
_CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
                   "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0", "--remote-allow-origins=*"]


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("the browser tests need Chromium: run scripts/setup --test (apt-get install chromium)")
    return found


@dataclass
class PageReport:
    scroll_width: int
    client_width: int
    overflowing: list[str]
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, profile: Path):
        self.profile = profile
        self.process: subprocess.Popen | None = None
        self.socket = None
        self._id = 0
        self.events: list[dict] = []

    def __enter__(self) -> "Chromium":
        self.process = subprocess.Popen([chromium_binary(), *_CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                         "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/json/list", timeout=30) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == method:
                return message
            self.events.append(message)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def inspect(self, page: Path, width: int, screenshot: Path | None = None) -> PageReport:
        """Load ``page`` in a viewport ``width`` px wide; report overflow, console and requests."""
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=page.resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        metrics = self.evaluate("""JSON.stringify({
            scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
            over: [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right >
                   document.documentElement.clientWidth + 0.5).slice(0, 10)
                   .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60))})""")
        metrics = json.loads(metrics)
        report = PageReport(scroll_width=metrics["scroll"], client_width=metrics["client"], overflowing=metrics["over"])
        if screenshot is not None:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=min(height, 16000),
                      deviceScaleFactor=1, mobile=False)
            shot = self.call("Page.captureScreenshot", format="png")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            report.screenshot = screenshot
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                report.console.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                report.console.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                report.console.append(f"log {params['entry']['level']}: {params['entry']['text']}")
            elif method == "Network.requestWillBeSent":
                report.requests.append(params["request"]["url"])
        return report
