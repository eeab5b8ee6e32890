"""Headless Chromium for the HTML report's tests: a screenshot with the browser's log, and
a page driven over the DevTools protocol (on a pipe, so no port and no websocket library)
to read where elements land and what pixels they paint."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REQUIRE_BROWSER = os.environ.get("CATALOG_ETL_TEST_REQUIRE_BROWSER", "") not in ("", "0")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WIDTH, HEIGHT = 1280, 2000

Box = tuple[float, float, float, float]
"""left, top, right, bottom in CSS pixels of the page."""
Pixel = tuple[int, int, int]


def chromium() -> str:
    """The browser's path; the test is skipped without one (failed when it is required)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message + " and CATALOG_ETL_TEST_REQUIRE_BROWSER is set")
        pytest.skip(message + "; the HTML report was not rendered")
    return browser


def render_in_chromium(browser: str, page: Path, folder: Path) -> tuple[bytes, str]:
    """A screenshot of ``page`` opened offline by headless Chromium, and its log (console
    messages, Content-Security-Policy violations included)."""
    screenshot = folder / f"{page.stem}.png"
    done = subprocess.run(
        [
            browser,
            *FLAGS,
            "--enable-logging=stderr",
            "--v=0",
            f"--user-data-dir={folder / 'profile'}",
            f"--screenshot={screenshot}",
            f"--window-size={WIDTH},{HEIGHT}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return screenshot.read_bytes(), done.stderr.decode("utf-8", "replace")


class Page:
    """One page of a headless Chromium driven over ``--remote-debugging-pipe``: commands
    are JSON messages ended by a NUL byte, written to the browser's fd 3, answered on 4."""

    def __init__(self, commands: int, answers: int) -> None:
        self._commands, self._answers = commands, answers
        self._buffer = b""
        self._last_id = 0
        self.session: str | None = None

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        found: dict[str, Any] = json.loads(message)
        return found

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self._last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result

    def wait_for(self, event: str) -> None:
        while self._read().get("method") != event:
            pass

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def boxes(self, selector: str) -> list[Box]:
        """The border boxes of the elements matching ``selector``, in document order."""
        root = self.send("DOM.getDocument")["root"]["nodeId"]
        nodes = self.send("DOM.querySelectorAll", nodeId=root, selector=selector)["nodeIds"]
        found = []
        for node in nodes:
            quad = self.send("DOM.getBoxModel", nodeId=node)["model"]["border"]
            found.append((quad[0], quad[1], quad[4], quad[5]))
        return found

    def pixels(self, box: Box) -> list[Pixel]:
        """The colours the page paints inside ``box`` (a screenshot of that part)."""
        left, top, right, bottom = box
        clip = {"x": left, "y": top, "width": right - left, "height": bottom - top, "scale": 1}
        shot = self.send("Page.captureScreenshot", format="png", clip=clip)
        return decode_png(base64.b64decode(shot["data"]))


_TRAMPOLINE = """
import os, sys
commands, answers = int(sys.argv[1]), int(sys.argv[2])
os.dup2(commands, 3)
os.dup2(answers, 4)
os.close(commands)
os.close(answers)
os.execv(sys.argv[3], sys.argv[3:])
"""
"""Puts the pipes where Chromium looks for them (fd 3 and 4), then becomes Chromium."""


def _high(pipe: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to descriptors above 9, so that putting them at 3 and 4 in the
    browser never overwrites one with the other."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in pipe)
    for fd in pipe:
        os.close(fd)
    return moved[0], moved[1]


@contextmanager
def open_page(browser: str, url: str, folder: Path) -> Iterator[Page]:
    """``url`` opened in a fresh headless Chromium, closed afterwards."""
    commands_in, commands_out = _high(os.pipe())
    answers_in, answers_out = _high(os.pipe())
    args = [browser, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={folder}", "about:blank"]
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "chromium.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", _TRAMPOLINE, str(commands_in), str(answers_out), *args],
        pass_fds=(commands_in, answers_out),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    os.close(commands_in)
    os.close(answers_out)
    page = Page(commands_out, answers_in)
    try:
        try:
            page.open(url)
        except (OSError, EOFError) as error:
            tail = (folder / "chromium.log").read_text("utf-8", "replace")[-3000:]
            raise RuntimeError(f"Chromium did not open {url}: {error}\n{tail}") from error
        yield page
    finally:
        try:
            page.send("Browser.close")
            process.wait(timeout=30)
        except (OSError, EOFError, RuntimeError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        os.close(commands_out)
        os.close(answers_in)
        log.close()


def _unfilter(kind: int, line: bytearray, previous: bytes, step: int) -> None:
    """Undo one PNG scanline filter in place (None, Sub, Up, Average, Paeth)."""
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        up = previous[i]
        corner = previous[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            guess = left + up - corner
            near = min(
                (abs(guess - left), 0, left),
                (abs(guess - up), 1, up),
                (abs(guess - corner), 2, corner),
            )
            line[i] = (line[i] + near[2]) & 0xFF


def decode_png(data: bytes) -> list[Pixel]:
    """The RGB pixels of an 8-bit RGB or RGBA PNG (what Chromium writes), row by row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        header = body if kind == b"IHDR" else header
        chunks += body if kind == b"IDAT" else b""
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(chunks)
    stride = width * step
    previous = bytes(stride)
    pixels = []
    for row in range(height):
        start = row * (stride + 1)
        line = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(raw[start], line, previous, step)
        pixels += [(line[i], line[i + 1], line[i + 2]) for i in range(0, stride, step)]
        previous = bytes(line)
    return pixels
