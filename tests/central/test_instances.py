"""Two gateway processes on one PostgreSQL database, as behind a load balancer: the same
batches replayed to both at once are held exactly once, an upload begun on one is finished
on the other, and the retention command runs beside them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from central.store import CentralStore
from offline_queue.transport import CentralTransport
from tests.central.pg import PostgresServer

ROOT = Path(__file__).resolve().parents[2]
KIOSKS = {f"K-INST-{n}": f"instance-test-secret-{n:04d}".encode() for n in range(3)}
# Worker processes booting beside a busy suite may take seconds to finish a TLS handshake
# or an answer: the kiosk's own 5 s/10 s limits are for a hall, not a loaded test machine.
PATIENT = {"timeout_s": 60.0, "connect_timeout_s": 60.0}


@contextmanager
def gateway(
    db: str, kiosks_file: Path, workers: int = 1, extra: list[str] | None = None
) -> Iterator[str]:
    """``kiosk central serve`` as its own process; yields its URL."""
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
            "--workers",
            str(workers),
            "--kiosks-file",
            str(kiosks_file),
            *(extra or []),
        ],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"(https?://\S+)", line)
        assert found, line + (proc.stderr.read() if proc.stderr else "")
        yield found.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def _entries(kiosk: str, batch: int) -> list[dict[str, Any]]:
    return [
        {
            "key": f"{kiosk}-{batch:03d}-{n:03d}",
            "kind": "kiosk.note",
            "schema_version": 1,
            "stream": f"s{n % 4}",
            "payload": {"batch": batch, "n": n},
            "attachments": [],
        }
        for n in range(40)
    ]


def test_two_gateway_processes_hold_each_replayed_transaction_once(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    db = postgres.emptied()
    kiosks_file = tmp_path / "kiosks"
    kiosks_file.write_text("".join(f"{k} {s.decode()}\n" for k, s in KIOSKS.items()))
    kiosks_file.chmod(0o600)
    with gateway(db, kiosks_file) as one, gateway(db, kiosks_file, workers=2) as two:
        answers: dict[tuple[str, str], list[Any]] = {}
        lock = threading.Lock()

        def send(url: str, kiosk: str, batch: int) -> None:
            with closing(
                CentralTransport(url, kiosk_id=kiosk, secret=KIOSKS[kiosk], timeout_s=60)
            ) as t:
                status, data, _ = t.json_request(
                    "POST", "/v1/transactions/batch", {"entries": _entries(kiosk, batch)}
                )
            assert status == 200, data
            with lock:
                for r in data["results"]:
                    answers.setdefault((kiosk, r["key"]), []).append(r)

        threads = [
            threading.Thread(target=send, args=(url, kiosk, batch))
            for kiosk in KIOSKS
            for batch in range(6)
            for url in (one, two, two)  # each batch to both instances, one of them twice
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(answers) == len(KIOSKS) * 6 * 40
        for results in answers.values():
            assert [r["status"] for r in results] == [201, 201, 201]
            assert len({r["ref"] for r in results}) == 1  # the same record every time
            assert sum(1 for r in results if not r.get("replayed")) == 1
        _upload_across_instances(one, two)

    store = CentralStore(db, pool_size=1)
    try:
        stored = [(t["kiosk_id"], t["key"]) for t in store.transactions()]
        assert sorted(stored) == sorted(answers)  # each exactly once
        assert store.stats()["replays"] == 2 * len(answers)
    finally:
        store.close()
    maintained = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "central", "maintain", "--db", db, "--json"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert maintained.returncode == 0, maintained.stderr
    assert json.loads(maintained.stdout)["keys_expired"] == 0  # nothing is old enough yet


def _upload_across_instances(one: str, two: str) -> None:
    """The instances keep no files: an upload begun on one continues on the other."""
    kiosk, secret = next(iter(KIOSKS.items()))
    data = os.urandom(200_000)
    meta = "sha256 " + base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
    with (
        closing(CentralTransport(one, kiosk_id=kiosk, secret=secret, **PATIENT)) as a,
        closing(CentralTransport(two, kiosk_id=kiosk, secret=secret, **PATIENT)) as b,
    ):
        created = a.request(
            "POST",
            "/v1/uploads",
            headers={"Upload-Length": str(len(data)), "Upload-Metadata": meta},
        )
        path = created.headers["Location"]
        for t, start, end in ((a, 0, 100_000), (b, 100_000, len(data))):
            digest = base64.b64encode(hashlib.sha256(data[start:end]).digest()).decode()
            patched = t.request(
                "PATCH",
                path,
                body=data[start:end],
                headers={
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Offset": str(start),
                    "Upload-Checksum": f"sha256 {digest}",
                },
            )
            assert patched.status == 204
        assert a.request("HEAD", path).headers["Upload-Offset"] == str(len(data))


def test_serve_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    """Kiosks refuse plain http beyond loopback: a gateway without a balancer in front
    serves TLS itself (``--certfile``/``--keyfile``), in every worker."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from offline_queue import CentralError

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    kiosks_file = tmp_path / "kiosks"
    kiosks_file.write_text("".join(f"{k} {s.decode()}\n" for k, s in KIOSKS.items()))
    kiosks_file.chmod(0o600)
    kiosk, secret = next(iter(KIOSKS.items()))
    extra = ["--certfile", str(cert_file), "--keyfile", str(key_file)]
    with gateway(str(tmp_path / "c.sqlite"), kiosks_file, workers=2, extra=extra) as url:
        assert url.startswith("https://")
        with closing(
            CentralTransport(
                url, kiosk_id=kiosk, secret=secret, ca_bundle=str(cert_file), **PATIENT
            )
        ) as trusted:
            for _ in range(4):  # whichever worker answers
                assert trusted.request("POST", "/v1/heartbeat", body=b"{}").status == 200
        with closing(CentralTransport(url, kiosk_id=kiosk, secret=secret, **PATIENT)) as untrusted:
            with pytest.raises(CentralError) as refused:
                untrusted.request("POST", "/v1/heartbeat", body=b"{}")
            assert refused.value.code == "central.tls"
