"""`make run` (issue 13): the web server, the Celery worker and its beat come up, the worker's heartbeat shows in
health, and SIGTERM (what a process manager or `kill` sends) stops all of them within seconds.

Runs the real `make run` (install skipped) on SQLite and the filesystem broker in a temporary directory, with a
small demo club, on a free port."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc), whatever session or process group it moved to."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (its parent died before reaping it)


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health/", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


@needs_make
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="needs the Makefile's .venv")
def test_make_run_serves_with_its_worker_and_stops_on_sigterm():
    port = free_port()
    var = Path(tempfile.mkdtemp(prefix="vipclub-run-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "VIPCLUB_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var / 'vipclub.sqlite3'}",
        "REDIS_URL": "",
        "DJANGO_DEBUG": "true",
        "VIPCLUB_WORKER_HEARTBEAT": "2",
    }
    log = tempfile.TemporaryFile()
    # given: `make run` (the install step taken as done), a small demo club
    make = subprocess.Popen(
        ["make", "-o", ".venv/.installed", "-o", ".env", "run", f"PORT={port}", "SEED_CUSTOMERS=20"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes: set[int] = set()
    started = time.monotonic()
    try:
        # when: it serves, and its worker has recorded a heartbeat
        deadline = time.monotonic() + 150
        body = None
        while time.monotonic() < deadline:
            assert make.poll() is None, "make run exited"
            body = health(port)
            if body and body["worker"] == "ok":
                break
            time.sleep(0.5)
        assert body and body["worker"] == "ok", body
        assert body["database"] == "ok" and body["broker"] == "ok"
        processes = descendants(make.pid)
        assert len(processes) >= 3  # the web server, the worker, its beat (and their helpers)
        # when: SIGTERM is sent to make (only make: not its process group)
        stopped = time.monotonic()
        make.send_signal(signal.SIGTERM)
        # then: make and everything it started are gone within seconds
        make.wait(timeout=20)
        while any(alive(pid) for pid in processes) and time.monotonic() - stopped < 20:
            time.sleep(0.1)
        left = {pid for pid in processes if alive(pid)}
        assert not left, f"still running after SIGTERM: {left}"
        seconds = time.monotonic() - stopped
        assert seconds < 15
        print(f"make run up in {stopped - started:.1f} s, stopped {seconds:.1f} s after SIGTERM")
        assert health(port) is None  # nothing answers on the port
    finally:
        for pid in descendants(make.pid) | processes | {make.pid}:
            if alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        log.seek(0)
        output = log.read().decode(errors="replace")
        log.close()
        shutil.rmtree(var, ignore_errors=True)
        print(output[-3000:])
