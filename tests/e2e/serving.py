"""Helpers for tests that run `antar serve` and `antar worker` as real processes and talk to them over HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

ANTAR = str(Path(sys.executable).with_name("antar"))
PASSWORD = "rahasia-uji-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def antar(env: Mapping[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([ANTAR, *args], env=dict(env), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"antar {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def base_env(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTAR_", "DATABASE_URL", "SECRET_KEY"))}
    env.update({"ANTAR_INSTANCE_PATH": str(instance), "ANTAR_PASSWORD": PASSWORD,
                "ANTAR_PASSWORD_HASH": "pbkdf2:sha256:1000"}, **extra)
    return env


@contextmanager
def process(env: Mapping[str, str], *args: str, log: Path, ready_url: str | None = None,
            timeout: float = 60) -> Iterator[subprocess.Popen]:
    """Run an `antar` command in the background (its output to `log`) until the block ends."""
    with open(log, "w") as out:
        proc = subprocess.Popen([ANTAR, *args], env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        if ready_url:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(ready_url, timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"antar {' '.join(args)} did not become ready:\n{log.read_text()}")
                time.sleep(0.2)
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def login(base: str, username: str, session: requests.Session | None = None) -> requests.Session:
    s = session or requests.Session()
    token = csrf_token(s.get(f"{base}/login").text)
    r = s.post(f"{base}/login", data={"csrf_token": token, "username": username, "password": PASSWORD},
               allow_redirects=False)
    assert r.status_code == 302 and "/login" not in r.headers["Location"], r.text[:500]
    return s


def wait_job(base: str, s: requests.Session, job_id: int, timeout: float = 300) -> tuple[dict, list[int]]:
    """Poll a job until it is finished: its last view and the progress values seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = s.get(f"{base}/api/v1/jobs/{job_id}", timeout=10).json()
        done = (view.get("progress") or {}).get("done")
        if done and (not seen or seen[-1] != done):
            seen.append(done)
        if view["finished"]:
            return view, seen
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not finished in {timeout} s: {json.dumps(view)[:500]}")
