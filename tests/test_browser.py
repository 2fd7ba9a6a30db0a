"""The HTML flowchart in a real headless browser (Debian's chromium).

The page for a transfer learner (L-1003, Camosun to the UVic BA) is rendered three ways: the
DOM after parsing (`--dump-dom`) must hold the chart, its nodes and legend; a screenshot must
show the status colours (decoded here, pixel by pixel); printing to PDF must give a document.
The screenshot is kept in `test-artifacts/` (gitignored) and its path printed.

Skipped, with the reason, when chromium is not installed; in CI (`CI=true`) its absence is a
failure, since `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackrules.cli import cli

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
COLOURS = {
    "held": (0xA5, 0xD6, 0xA7),
    "earned": (0x90, 0xCA, 0xF9),
    "in-progress": (0xFF, 0xCC, 0x80),
}


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed, and CI must run the browser test")
        pytest.skip("chromium is not installed (apt-get install chromium); CI installs it")
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("graph") / "uvic-ba-L-1003.html"
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(
            cli,
            [
                *("graph", "--rules", "rules", "--credential", "UVIC:BA"),
                *("--record", "examples/learners.json", "--learner", "L-1003"),
                *("--as-of", "2026-11-22", "--format", "html", "--out", str(out)),
            ],
        )
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.stderr
    return out


def _run(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    return subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_dom_holds_the_chart(page: Path, tmp_path: Path) -> None:
    browser = _chromium()
    done = _run(browser, tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<figure><svg" in dom and "</svg></figure>" in dom
    for text in ("UVIC:BA", "CAMOSUN:PSYC120", "UVIC:PSYC100B", "60 credits from"):
        assert f">{text}</text>" in dom
    assert 'class="node credential in-progress"' in dom
    assert 'class="node item held"' in dom and 'class="node item earned"' in dom
    assert "held (on the record)" in dom and "learner L-1003 as of 2026-11-22" in dom


def _pixels(png: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit RGB(A), non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0
    channels = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytearray] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append(line)
        prev = line
    pixels = [
        (row[i], row[i + 1], row[i + 2]) for row in rows for i in range(0, stride, channels * 3)
    ]
    return width, height, pixels


def test_a_screenshot_shows_the_statuses(page: Path, tmp_path: Path) -> None:
    browser = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "graph-uvic-ba-L-1003.png"
    shot.unlink(missing_ok=True)
    done = _run(browser, tmp_path, f"--screenshot={shot}", "--window-size=1400,1000", page.as_uri())
    assert done.returncode == 0 and shot.exists(), done.stderr[-2000:]
    print(f"screenshot: {shot}")
    width, height, pixels = _pixels(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    for status, (r, g, b) in COLOURS.items():
        near = sum(
            1 for p in pixels if abs(p[0] - r) <= 6 and abs(p[1] - g) <= 6 and abs(p[2] - b) <= 6
        )
        assert near > 20, f"no {status} colour in the screenshot"


def test_the_page_prints(page: Path, tmp_path: Path) -> None:
    browser = _chromium()
    pdf = tmp_path / "chart.pdf"
    done = _run(browser, tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert done.returncode == 0 and pdf.exists(), done.stderr[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/Type /Page" in data
