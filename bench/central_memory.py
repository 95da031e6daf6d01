"""The gateway's memory under unsigned floods and idle connections (issue "Hardening from a
bad-input and fault probe", item 6): a gateway process on SQLite, its resident memory (RSS)
sampled every 20 ms while

1. 16 clients at once each POST a 32 MiB body with no signature (the old server read them
   all: 230 -> 725 MB);
2. 16 clients at once each PATCH an 8 MiB body (the largest upload chunk allowed) under a
   known kiosk id with a forged signature: these are read before the signature can be
   checked, so they are bounded by the gateway's body budget (16 MiB);
3. 300 connections are opened and left idle (the old server held a thread for each, for
   ever): how many the gateway has closed once its header timeout has passed.

Target: no growth beyond 50 MB; idle connections closed after the timeout. Prints one JSON
object. ``PYTHONPATH=. .venv/bin/python bench/central_memory.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder first on the path would make bench/queue.py the standard library's ``queue``.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BODY = 32 * 1024 * 1024
CHUNK = 8 * 1024 * 1024  # central.app.MAX_BODY
CLIENTS = 16
IDLE = 300
HEADER_TIMEOUT_S = 10.0  # central.guard.Limits.header_timeout_s


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Sampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def flood(port: int, head: bytes, size: int) -> dict[str, Any]:
    """CLIENTS connections at once, each sending ``head`` and then up to ``size`` bytes,
    until the gateway answers or closes; how they were answered."""
    answers: list[str] = []
    lock = threading.Lock()
    block = b"\0" * 65536

    def client() -> None:
        status = "no answer"
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(head)
            sent = 0
            try:
                while sent < size:
                    readable, _, _ = select.select([s], [], [], 0)
                    if readable:
                        break
                    s.sendall(block)
                    sent += len(block)
                reply = s.recv(64)
                status = reply.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"
            except OSError as exc:
                status = f"cut off ({type(exc).__name__})"
        with lock:
            answers.append(status)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return {status: answers.count(status) for status in sorted(set(answers))}


def idle_connections(port: int) -> dict[str, Any]:
    held = [socket.create_connection(("127.0.0.1", port), timeout=60) for _ in range(IDLE)]
    opened = time.monotonic()
    for s in held:
        s.setblocking(False)
    closed_at: list[float] = []
    open_now = list(held)
    deadline = opened + HEADER_TIMEOUT_S * 3
    while open_now and time.monotonic() < deadline:
        readable, _, _ = select.select(open_now, [], [], 0.5)
        for s in readable:
            try:
                data = s.recv(1)
            except OSError:
                data = b""
            if not data:
                closed_at.append(time.monotonic() - opened)
                open_now.remove(s)
    for s in held:
        s.close()
    return {
        "opened": IDLE,
        "closed_by_gateway": len(closed_at),
        "first_closed_after_s": round(min(closed_at), 1) if closed_at else None,
        "last_closed_after_s": round(max(closed_at), 1) if closed_at else None,
    }


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="central-memory-") as tmp:
        secret = Path(tmp) / "k.secret"
        secret.write_text("memory-bench-secret-0123456789")
        secret.chmod(0o600)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kiosk.cli",
                "central",
                "serve",
                "--db",
                f"{tmp}/c.sqlite",
                "--port",
                "0",
                "--kiosk",
                f"K-MEM={secret}",
            ],
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            found = re.search(r":(\d+) ", proc.stdout.readline())
            assert found, "the gateway did not start"
            port = int(found.group(1))
            for _ in range(20):  # warm up: every module loaded, pools filled
                with socket.create_connection(("127.0.0.1", port)) as s:
                    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    s.recv(1024)
            baseline = rss_mb(proc.pid)
            result: dict[str, Any] = {
                "benchmark": "central_memory",
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "baseline_rss_mb": round(baseline, 1),
            }
            unsigned = (
                f"POST /v1/transactions/batch HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: application/json\r\nContent-Length: {BODY}\r\n\r\n"
            ).encode()
            sampler = Sampler(proc.pid)
            answers = flood(port, unsigned, BODY)
            result["unsigned_32mib_x16"] = {
                "answers": answers,
                "peak_growth_mb": round(sampler.stop() - baseline, 1),
            }
            forged = (
                f"PATCH /v1/uploads/{'0' * 32} HTTP/1.1\r\nHost: x\r\n"
                f"X-Kiosk-Id: K-MEM\r\nX-Kiosk-Timestamp: {int(time.time())}\r\n"
                f"X-Kiosk-Signature: {'0' * 64}\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                f"Content-Length: {CHUNK}\r\n\r\n"
            ).encode()
            before = rss_mb(proc.pid)
            sampler = Sampler(proc.pid)
            answers = flood(port, forged, CHUNK)
            result["forged_signature_8mib_x16"] = {
                "answers": answers,
                "peak_growth_mb": round(sampler.stop() - baseline, 1),
                "rss_before_mb": round(before, 1),
            }
            sampler = Sampler(proc.pid)
            idle = idle_connections(port)
            idle["peak_growth_mb"] = round(sampler.stop() - baseline, 1)
            result["idle_connections"] = idle
            result["rss_after_mb"] = round(rss_mb(proc.pid), 1)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
