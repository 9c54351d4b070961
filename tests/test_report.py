"""``tinyfq report``: one self-contained HTML page, opened in headless Chromium (Debian's
``chromium``) over the DevTools protocol: it loads with no console error, dragging the
threshold control changes the kept count, and a screenshot is saved. Skipped when Chromium is
not installed (``apt-get install chromium``)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import read_csv
from tinyfq_native.report import read_rows

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser")) if p), None)


# --- a small DevTools client: a WebSocket over a plain socket ------------------------------


class DevTools:
    """Headless Chromium driven over its DevTools protocol (one page, flat sessions)."""

    def __init__(self, profile: Path):
        self.proc = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1280,1600",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and len(port_file.read_text().split()) == 2:
                break
            time.sleep(0.1)
        else:
            self.close()
            pytest.fail("Chromium did not open its DevTools port")
        port, path = port_file.read_text().split()
        self.sock = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id, self.events, self.session = 0, [], None

    def _send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        head = b"\x81" + (
            bytes([0x80 | n])
            if n < 126
            else bytes([0x80 | 126]) + struct.pack(">H", n)
            if n < 65536
            else bytes([0x80 | 127]) + struct.pack(">Q", n)
        )
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("Chromium closed the DevTools connection")
            out += chunk
        return out

    def _receive(self) -> dict:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if b0 & 0x0F in (0x1, 0x0):  # text, continuation
                message += payload
                if b0 & 0x80:
                    return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        self._send(json.dumps(msg))
        while True:
            m = self._receive()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, event: str, timeout: float = 30) -> dict:
        end = time.time() + timeout
        while time.time() < end:
            for m in self.events:
                if m.get("method") == event:
                    self.events.remove(m)
                    return m
            self.events.append(self._receive())
        pytest.fail(f"no {event} within {timeout} s")

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m.get("method") == "Runtime.exceptionThrown":
                out.append(str(p["exceptionDetails"].get("text")))
            elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(str(p.get("args")))
            elif m.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def drag(self, x0: float, x1: float, y: float) -> None:
        mouse = "Input.dispatchMouseEvent"
        self.call(mouse, type="mousePressed", x=x0, y=y, button="left", clickCount=1)
        for i in range(1, 11):
            self.call(mouse, type="mouseMoved", x=x0 + (x1 - x0) * i / 10, y=y, button="left")
        self.call(mouse, type="mouseReleased", x=x1, y=y, button="left", clickCount=1)

    def close(self) -> None:
        try:
            self.sock.close()
        except AttributeError:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- the report ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(tmp_path_factory, data_root):
    """Scores of three LFW people's photos and a missing file, with --factors, and their
    report."""
    d = tmp_path_factory.mktemp("report")
    people = [
        p for p in sorted((data_root / "lfw" / "images").glob("A*")) if len(list(p.iterdir())) >= 5
    ]
    paths = [str(p) for person in people[:3] for p in sorted(person.glob("*.jpg"))[:5]]
    scores = d / "scores.csv"
    run = [sys.executable, "-m", "tinyfq_native.cli"]
    r = subprocess.run(
        [*run, "score", *paths, str(d / "missing.jpg"), "--detect", "--factors", "-q"]
        + ["-o", str(scores)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stderr  # the missing file
    html = d / "report.html"
    r = subprocess.run(
        [*run, "report", str(scores), "-o", str(html), "-n", "4"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return scores, html


def test_the_page_is_self_contained(report):
    scores, html = report
    page = html.read_text()
    assert not re.search(r"https?://|//cdn|<link\b|<script\s+src|@import|url\(", page)
    imgs = re.findall(r'<img[^>]*src="([^"]*)"', page)
    assert len(imgs) == 8 and all(s.startswith("data:image/png;base64,") for s in imgs)
    assert base64.b64decode(imgs[0].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(scores)
    assert sum(r["status"] == "ok" for r in rows) == len(json.loads(_data(page))["scores"])
    for name in ("sharpness", "yaw", "exposure"):  # the factors are shown with the faces
        assert f"<td>{name}</td>" in page
    assert page.count("<tr data-folder=") == 4  # three people and the missing file's folder


def _data(page: str) -> str:
    return re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)[1]


def test_the_report_reads_both_output_formats(report, tmp_path):
    scores, _ = report
    rows = read_rows(scores)
    assert rows.options["mode"] == "detect" and rows.options["factors"] is True
    jsonl = tmp_path / "s.jsonl"
    lines = [json.dumps({"tinyfq": rows.options})] + [json.dumps(r) for r in rows.rows]
    jsonl.write_text("\n".join(lines) + "\n")
    again = read_rows(jsonl)
    assert again.options == rows.options
    assert [r["score"] for r in again.rows] == [r["score"] for r in rows.rows]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_the_page_works_in_chromium(report, tmp_path):
    scores, html = report
    scored = sorted(r["score"] for r in read_rows(scores).rows if r["score"] is not None)
    browser = DevTools(tmp_path / "profile")
    try:
        browser.open(html.resolve().as_uri())
        start = float(browser.evaluate("document.getElementById('threshold').value"))
        kept = int(browser.evaluate("document.getElementById('kept').textContent"))
        assert kept == sum(s >= start for s in scored)
        box = browser.evaluate(
            "(() => {const s = document.getElementById('threshold');"
            "s.scrollIntoView({block: 'center'}); const r = s.getBoundingClientRect();"
            "return [r.left, r.right, (r.top + r.bottom) / 2];})()"
        )
        left, right, y = box
        browser.drag(left + 2, right + 20, y)  # to the top end: keeps the fewest
        high = int(browser.evaluate("document.getElementById('kept').textContent"))
        browser.drag(right - 2, left - 20, y)  # to the bottom end: keeps every scored face
        low = int(browser.evaluate("document.getElementById('kept').textContent"))
        assert high < kept <= low == len(scored) or (high < low == len(scored))
        assert float(browser.evaluate("document.getElementById('threshold').value")) == 0
        browser.drag(left, left + (right - left) * 0.6, y)
        mid = float(browser.evaluate("document.getElementById('threshold').value"))
        assert int(browser.evaluate("document.getElementById('kept').textContent")) == sum(
            s >= mid for s in scored
        )
        if browser.evaluate("D.calibration !== null"):  # the model's table, when it has one
            assert browser.evaluate("document.getElementById('fnmr').textContent").endswith("%")
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        png = base64.b64decode(shot["data"])
        (tmp_path / "report.png").write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
        assert browser.errors() == []
    finally:
        browser.close()
