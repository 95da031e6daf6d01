"""Fleet-sized load on the central gateway: simulated kiosks on loopback against 2 gateway
processes on one PostgreSQL database (durable settings), then against 1 on SQLite.

Each kiosk keeps one keep-alive connection (reopened when the gateway closes an idle one)
and, with time compressed by ``--compress``:

- a heartbeat every 30 s;
- a transaction every ``--transaction-s`` (60 s): a signed batch of 1-3 entries; a photo
  kiosk (one in three) first uploads a ~120 KiB photo (tus create + one PATCH) that the
  entry references; a renewal kiosk (one in three) opens a payment order and polls it
  three times (every 2 s) before cancelling it;
- one batch in twenty is sent twice, as after a lost answer (it must be replayed).

Afterwards the database is checked: every entry acknowledged 201 is stored exactly once.
Prints one JSON object: per scenario the request rate, p50/p99 per route, errors, and lost
or duplicated transactions. Target (issue "Central gateway on a real stack"): 500 kiosks
with p99 < 200 ms for signed batch posts, zero lost or duplicated.

    PYTHONPATH=. .venv/bin/python bench/central.py [--kiosks 500] [--seconds 60]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This folder first on the path would make bench/queue.py the standard library's ``queue``.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from offline_queue.auth import signed_headers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHEN = "44030419900307123X"  # an eligible demo citizen (central/store/seed.py)
CHOICE = {"id_number": CHEN, "option": "one_trip", "region": "HK", "purpose": "individual"}
PHOTO = os.urandom(120 * 1024)
PHOTO_SHA = hashlib.sha256(PHOTO).hexdigest()


class Connection:
    """One kiosk's HTTP/1.1 keep-alive connection (a minimal client: the load generator
    must cost far less CPU than the gateway it measures)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        # Every request here is idempotent (keys, ids), so one resend after the gateway
        # closed an idle connection under it is safe.
        for attempt in (1, 2):
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                return await self._exchange(method, path, body, headers)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        assert self.reader is not None and self.writer is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.writer.write(head.encode() + b"\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise EOFError("closed")
        status = int(status_line.split()[1])
        answer: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            answer[name.strip().lower()] = value.strip()
        length = int(answer.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length and method != "HEAD" else b""
        if answer.get("connection", "").lower() == "close":
            await self.close()
        return status, answer, data


class Kiosk:
    def __init__(self, n: int, url: str, secret: bytes, run: Run) -> None:
        self.id = f"BENCH-{n:04d}"
        self.kind = ("photo", "renewal", "pickup")[n % 3]
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.conn = Connection(host, int(port))
        self.secret = secret
        self.run = run
        self.rng = random.Random(n)
        self.sequence = 0

    async def call(
        self, route: str, method: str, path: str, body: bytes = b"", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        signed = signed_headers(
            self.id, self.secret, method=method, path=path, timestamp=int(time.time()), body=body
        )
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        try:
            status, answer, data = await self.conn.request(
                method, path, body, {**headers, **signed}
            )
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            self.run.errors[f"{route}: {type(exc).__name__}"] += 1
            raise
        self.run.latency[route].append(time.perf_counter() - start)
        if status >= 400:
            self.run.errors[f"{route}: {status}"] += 1
        return status, answer, data

    async def live(self, until: float, compress: float, transaction_s: float) -> None:
        heartbeat_every = 30.0 / compress
        transaction_every = transaction_s / compress
        next_heartbeat = time.monotonic() + self.rng.uniform(0, heartbeat_every)
        next_transaction = time.monotonic() + self.rng.uniform(0, transaction_every)
        while True:
            wake = min(next_heartbeat, next_transaction)
            if wake >= until:
                break
            await asyncio.sleep(max(0.0, wake - time.monotonic()))
            try:
                if wake == next_heartbeat:
                    next_heartbeat += heartbeat_every
                    await self.heartbeat()
                else:
                    next_transaction += transaction_every
                    await self.transaction(compress)
            except (OSError, EOFError, asyncio.IncompleteReadError):
                await asyncio.sleep(1.0 / compress)
        await self.conn.close()

    async def heartbeat(self) -> None:
        status = {"pending": 0, "dead": 0, "devices": {"printer": "ok", "camera": "ok"}}
        await self.call("POST /v1/heartbeat", "POST", "/v1/heartbeat", _json({"status": status}))

    async def transaction(self, compress: float) -> None:
        attachments: list[dict[str, Any]] = []
        kind, payload = "kiosk.note", {"kiosk_id": self.id}
        if self.kind == "photo":
            upload = await self.upload()
            if upload is None:
                return
            attachments = [
                {"name": "photo.jpg", "sha256": PHOTO_SHA, "size": len(PHOTO), "upload": upload}
            ]
            kind = "photo.captured"
            payload = {
                "photo_number": f"{self.id}-P-{self.sequence:06d}",
                "kiosk_id": self.id,
                "id_binding": {"id_number": CHEN, "name": "Chen Wei", "card_type": "resident"},
            }
        elif self.kind == "renewal":
            await self.payment(compress)
        entries = []
        for _ in range(self.rng.randint(1, 3)):
            self.sequence += 1
            entries.append(
                {
                    "key": f"{self.id}-{self.sequence:08d}",
                    "kind": kind,
                    "schema_version": 1,
                    "stream": f"{self.id}-s{self.sequence % 4}",
                    "payload": {**payload, "n": self.sequence},
                    "attachments": attachments,
                }
            )
            attachments, kind, payload = [], "kiosk.note", {"kiosk_id": self.id}
        body = _json({"entries": entries})
        for send in range(2 if self.rng.random() < 0.05 else 1):
            status, _, data = await self.call(
                "POST /v1/transactions/batch", "POST", "/v1/transactions/batch", body
            )
            if status == 200:
                for r in json.loads(data)["results"]:
                    if r["status"] == 201:
                        self.run.acknowledged.add((self.id, r["key"]))
                        self.run.replays += bool(r.get("replayed"))
                    else:
                        self.run.errors[f"entry {r['status']}: {r.get('error')}"] += 1
            del send

    async def upload(self) -> str | None:
        meta = "sha256 " + base64.b64encode(PHOTO_SHA.encode()).decode()
        status, answer, _ = await self.call(
            "POST /v1/uploads",
            "POST",
            "/v1/uploads",
            **{"Upload-Length": str(len(PHOTO)), "Upload-Metadata": meta},
        )
        if status != 201:
            return None
        path = answer["location"]
        digest = base64.b64encode(hashlib.sha256(PHOTO).digest()).decode()
        status, _, _ = await self.call(
            "PATCH /v1/uploads/{id}",
            "PATCH",
            path,
            PHOTO,
            **{
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": "0",
                "Upload-Checksum": f"sha256 {digest}",
            },
        )
        return path.rsplit("/", 1)[1] if status == 204 else None

    async def payment(self, compress: float) -> None:
        self.sequence += 1
        status, _, data = await self.call(
            "POST /v1/payments",
            "POST",
            "/v1/payments",
            _json(CHOICE),
            **{"Idempotency-Key": f"{self.id}-pay-{self.sequence:08d}"},
        )
        if status != 201:
            return
        order = json.loads(data)["order_id"]
        for _ in range(3):
            await asyncio.sleep(2.0 / compress)
            await self.call("GET /v1/payments/{id}", "GET", f"/v1/payments/{order}")
        await self.call(
            "POST /v1/payments/{id}/cancel", "POST", f"/v1/payments/{order}/cancel", b"{}"
        )


class Run:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.acknowledged: set[tuple[str, str]] = set()
        self.replays = 0


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@contextmanager
def gateway(db: str, kiosks_file: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiosk.cli",
            "central",
            "serve",
            "--db",
            db,
            "--port",
            "0",
            "--kiosks-file",
            str(kiosks_file),
            "--pool-size",
            "10",
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        found = re.search(r"(http://\S+)", proc.stdout.readline())
        assert found, "the gateway did not start"
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


async def drive(urls: list[str], secrets: dict[str, bytes], args: argparse.Namespace) -> Run:
    run = Run()
    kiosks = [
        Kiosk(n, urls[n % len(urls)], secrets[f"BENCH-{n:04d}"], run) for n in range(args.kiosks)
    ]
    until = time.monotonic() + args.seconds
    await asyncio.gather(*(k.live(until, args.compress, args.transaction_s) for k in kiosks))
    return run


def stored_keys(db: str) -> Counter[tuple[str, str]]:
    from central.store import CentralStore

    store = CentralStore(db, pool_size=1)
    try:
        return Counter((t["kiosk_id"], t["key"]) for t in store.transactions())
    finally:
        store.close()


def scenario(dbs: list[str], args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    secrets = {f"BENCH-{n:04d}": os.urandom(16).hex().encode() for n in range(args.kiosks)}
    kiosks_file = folder / "kiosks"
    kiosks_file.write_text("".join(f"{k} {s.decode()}\n" for k, s in secrets.items()))
    kiosks_file.chmod(0o600)
    with ExitStack() as stack:
        urls = [stack.enter_context(gateway(db, kiosks_file)) for db in dbs]
        start = time.perf_counter()
        run = asyncio.run(drive(urls, secrets, args))
        took = time.perf_counter() - start
    stored = stored_keys(dbs[0])
    ours = {k: n for k, n in stored.items() if k[0].startswith("BENCH-")}
    requests = sum(len(v) for v in run.latency.values())
    return {
        "instances": len(dbs),
        "seconds": round(took, 1),
        "requests": requests,
        "throughput_rps": round(requests / took, 1),
        "routes": {
            route: {
                "count": len(values),
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p99_ms": round(_quantile(values, 0.99) * 1000, 1),
            }
            for route, values in sorted(run.latency.items())
        },
        "errors": dict(run.errors.most_common(10)),
        "transactions": {
            "acknowledged": len(run.acknowledged),
            "replays_answered": run.replays,
            "lost": len(run.acknowledged - set(ours)),
            "duplicated": sum(n - 1 for n in ours.values() if n > 1),
        },
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kiosks", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--compress", type=float, default=10.0, help="time compression")
    parser.add_argument("--transaction-s", type=float, default=120.0)
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.central.pg import PostgresServer

    result: dict[str, Any] = {
        "benchmark": "central",
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "kiosks": args.kiosks,
        "compression": args.compress,
        "heartbeat_every_s": 30 / args.compress,
        "transaction_every_s": args.transaction_s / args.compress,
    }
    with tempfile.TemporaryDirectory(prefix="central-bench-") as tmp:
        folder = Path(tmp)
        if args.only in (None, "postgresql"):
            server = PostgresServer(durable=True)
            try:
                db = server.database()
                result["postgresql_2_instances"] = scenario([db, db], args, folder)
            finally:
                server.stop()
        if args.only in (None, "sqlite"):
            db = str(folder / "central.sqlite")
            result["sqlite_1_instance"] = scenario([db], args, folder)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
