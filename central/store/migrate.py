"""Bring a database to the current schema (Alembic) and, if it is new, fill in the demo data.

Several gateway processes may start at once on one PostgreSQL database: the first takes an
advisory lock and migrates, the others wait for it and then find nothing to do. On SQLite
the migration runs in one ``BEGIN IMMEDIATE`` transaction, which serialises it the same way.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, select

from central.store.db import Database
from central.store.schema import citizens, upload_chunks, uploads

log = logging.getLogger(__name__)
# Alembic reports every plugin it loads at INFO; the gateway says itself when it migrates.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_LOCK_ID = 0x63656E7472616C  # "central": the advisory lock every instance migrates under


def alembic_config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def prepare(db: Database, *, seed: Callable[[Connection, date], None] | None, today: date) -> None:
    """Migrate to the head revision; seed an empty store with ``seed``; adopt the upload
    files of a store from before migrations."""
    with db.write() as conn:
        if db.is_postgresql:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
        before = current_revision(conn)
        if before != head_revision():
            log.info("migrating the central store from %s to %s", before, head_revision())
            command.upgrade(alembic_config(conn), "head")
        if seed is not None and conn.execute(select(citizens.c.id_number).limit(1)).first() is None:
            seed(conn, today)
        if db.path is not None:
            _adopt_upload_files(conn, Path(str(db.path) + ".uploads"))


def _adopt_upload_files(conn: Connection, folder: Path) -> None:
    """The stdlib server kept upload bytes in files beside the store; they move inside."""
    if not folder.is_dir():
        return
    known = {str(r[0]) for r in conn.execute(select(uploads.c.id))}
    for file in folder.iterdir():
        if file.name in known and file.stat().st_size:
            conn.execute(
                upload_chunks.insert().values(upload_id=file.name, offset=0, data=file.read_bytes())
            )
    shutil.rmtree(folder)
