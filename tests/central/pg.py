"""A throwaway PostgreSQL server for the tests: Debian's postgresql binaries, ``initdb`` in a
temporary directory, a free loopback port, durability switched off (the tests measure
behaviour, not the disk). As root it runs as the ``postgres`` user (made by Debian's
package), else as ``nobody``: PostgreSQL refuses to run as root.

One server per test session; each test gets a database of its own, copied from a migrated
template (``CREATE DATABASE ... TEMPLATE``), and dropped afterwards."""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

SUPERUSER = "central"
TEMPLATE = "central_template"


def binaries() -> Path:
    """The directory of ``initdb`` and ``postgres`` (Debian keeps them off PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    raise RuntimeError(
        "PostgreSQL is not installed: `bash scripts/bootstrap.sh setup` installs Debian's "
        "postgresql package"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """``durable``: keep PostgreSQL's defaults (fsync, synchronous commit), as a deployment
    would (the benchmark); the tests switch them off."""

    def __init__(self, *, durable: bool = False) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="central-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            name = "postgres" if _exists("postgres") else "nobody"
            self._user = pwd.getpwnam(name)
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        self._numbers = itertools.count(1)
        self._shared: str | None = None
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ]
        )
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
                "-c",
                "shared_buffers=64MB",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "server.log", "wb"),  # noqa: SIM115
            **self._as_user(),
        )
        self._wait_ready(deadline_s=60)
        from central.store import CentralStore

        self.admin(f"CREATE DATABASE {TEMPLATE}")
        CentralStore(self.url(TEMPLATE), pool_size=1, demo_data=False).close()

    def _as_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "cwd": str(self.root)}

    def _run(self, command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True, **self._as_user())  # type: ignore[call-overload]

    def _wait_ready(self, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while True:
            if self.process.poll() is not None:
                log = (self.root / "server.log").read_text(errors="replace")
                raise RuntimeError(f"PostgreSQL did not start:\n{log}")
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def database(self) -> str:
        """A new database, already migrated (not seeded); returns its URL."""
        name = f"t{next(self._numbers)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def emptied(self) -> str:
        """The shared test database, migrated and emptied (every table truncated): a fresh
        store for the next test in a few milliseconds, where a new database takes ~0.3 s."""
        if self._shared is None:
            self._shared = self.database()
        from central.store.schema import metadata

        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        dsn = self.dsn(self._shared.rsplit("/", 1)[1])
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")  # type: ignore[arg-type]
        return self._shared

    def drop(self, url: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True
