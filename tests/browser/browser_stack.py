"""The running stack, a browser tab and its screenshots: shared by conftest.py and the browser tests.

(A module of its own, not conftest.py, so that tests import it by a name no other file shares.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from helpers import card_row
from playwright.sync_api import Page, expect

ANTAR = str(Path(sys.executable).with_name("antar"))
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Kelurahan outlines for the dashboard's map: the development data of ../shared, read in place (never copied).
GEOJSON = Path(__file__).resolve().parents[3] / "shared" / "data" / "wilayah" / "bekasi_kelurahan.geojson"
PASSWORD = "rahasia-uji-browser-1"
API_TOKEN = "uji-token-browser"
STAFF_USER, OFFICER_USER = "staf", "petugas"
# The officer's kelurahan: Jatimulya, Tambun Selatan (helpers.card_row's default address).
OFFICER_KELURAHAN = "32.16.06.1001"
# The officer's batch: cards of Jatimulya imported, withdrawn and sent to the kelurahan before the browser part.
OFFICER_CARDS = [card_row(9000 + i, nama=name, rt=f"{i:03d}", nomor_blanko=f"BLK{9000 + i:07d}")
                 for i, name in enumerate(("SITI RAHAYU", "AHMAD FAUZI", "DEWI LESTARI", "BUDI SANTOSO",
                                           "RINA MARLINA", "JOKO PRASETYO", "NUR HIDAYAH", "AGUS SETIAWAN"), 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    """The running system: where it answers, its environment (for `antar` commands) and its logs."""

    base_url: str
    sim_url: str
    env: dict[str, str]
    workdir: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def antar(self, *args: str) -> subprocess.CompletedProcess:
        # A wide terminal for rich's tables, so that their cells are not wrapped.
        proc = subprocess.run([ANTAR, *args], env={**self.env, "COLUMNS": "200"}, cwd=self.workdir,
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, f"antar {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        return proc

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs.get(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path and path.exists() else ""

    def sim(self, method: str, path: str, **kwargs) -> dict:
        """The simulator's control API (`/_sim/state`, `/_sim/advance`)."""
        r = requests.request(method, self.sim_url + path.lstrip("/"), timeout=300, **kwargs)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json()


def start_process(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        # A session of its own: the process and its children (gunicorn's workers) are one group, ended together.
        return subprocess.Popen([ANTAR, *args], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: the process ended ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {timeout} s:\n{log.read_text()[-3000:]}")


class Shots:
    """Full-page screenshots named `<prefix>-<nn>-<step>.png`; every page a test visits is kept."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.n = prefix, 0
        for old in ARTIFACTS.glob(f"{prefix}-*.png"):
            old.unlink()

    def __call__(self, page, step: str) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@dataclass
class Visit:
    """A browser tab for one test, the screenshots it takes and the server errors it met."""

    page: Page
    shots: Shots
    base_url: str
    server_errors: list[str] = field(default_factory=list)

    def shot(self, step: str) -> Path:
        return self.shots(self.page, step)

    def login(self, username: str) -> None:
        self.goto("/login", "login")
        self.page.get_by_label("Nama pengguna").fill(username)
        self.page.get_by_label("Kata sandi").fill(PASSWORD)
        self.page.get_by_role("button", name="Masuk").click()
        expect(self.page.get_by_role("button", name="Keluar")).to_be_visible()
        self.shot("after-login")

    def goto(self, path: str, step: str | None = None) -> None:
        response = self.page.goto(self.base_url + path)
        assert response is not None and response.status < 400, f"GET {path}: {response and response.status}"
        if step:
            self.shot(step)


