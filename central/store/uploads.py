"""Resumable uploads (tus 1.0 core + creation + checksum): the bytes are kept in the
database in the chunks they arrived in, so any gateway instance can continue an upload. An
upload belongs to the kiosk that created it; to any other it does not exist (404)."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Mapping

from sqlalchemy import Connection, and_, delete, select, update

from central.store.common import Refused
from central.store.db import Database
from central.store.schema import upload_chunks, uploads

MAX_UPLOAD = 64 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class Uploads:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_upload(self, kiosk_id: str, length: int, meta: Mapping[str, str]) -> str:
        if not 0 <= length <= MAX_UPLOAD:
            raise Refused(400, f"Upload-Length must be 0 to {MAX_UPLOAD}")
        sha = meta.get("sha256", "")
        if not _SHA256.fullmatch(sha):
            raise Refused(400, "Upload-Metadata must carry the sha256 of the file")
        upload_id = uuid.uuid4().hex
        with self.db.write() as conn:
            conn.execute(
                uploads.insert().values(
                    id=upload_id,
                    kiosk_id=kiosk_id,
                    length=length,
                    offset=0,
                    filename=_UNSAFE.sub("", meta.get("filename", ""))[:100],
                    content_type=_UNSAFE.sub(
                        "", meta.get("content_type", "application/octet-stream")
                    )[:100],
                    sha256=sha,
                    created_at=time.time(),
                    completed_at=None,
                )
            )
            self.db.bump(conn, "uploads")
        return upload_id

    def upload_state(self, upload_id: str, kiosk_id: str | None = None) -> tuple[int, int]:
        """(offset, length); ``kiosk_id`` None (tests, staff tools) reads any upload."""
        with self.db.read() as conn:
            row = self._row(conn, upload_id, kiosk_id, lock=False)
        return int(row[0]), int(row[1])

    def append_upload(
        self, upload_id: str, offset: int, data: bytes, kiosk_id: str | None = None
    ) -> int:
        with self.db.write() as conn:
            current, length, sha = self._row(conn, upload_id, kiosk_id, lock=True)
            if offset != current:
                raise Refused(409, "Upload-Offset mismatch", offset=current)
            if current + len(data) > length:
                raise Refused(413, "more data than Upload-Length")
            new = current + len(data)
            if data:
                conn.execute(
                    upload_chunks.insert().values(upload_id=upload_id, offset=current, data=data)
                )
            completed = None
            if new == length:
                if hashlib.sha256(_content(conn, upload_id)).hexdigest() != sha:
                    # The whole file does not match: start again from zero. Committed, then
                    # refused, so the kiosk's HEAD finds offset 0.
                    conn.execute(
                        delete(upload_chunks).where(upload_chunks.c.upload_id == upload_id)
                    )
                    conn.execute(update(uploads).where(uploads.c.id == upload_id).values(offset=0))
                    restarted = True
                else:
                    restarted = False
                    completed = time.time()
            else:
                restarted = False
            if not restarted:
                conn.execute(
                    update(uploads)
                    .where(uploads.c.id == upload_id)
                    .values(offset=new, completed_at=completed)
                )
                self.db.bump(conn, "upload_bytes", len(data))
        if restarted:
            raise Refused(460, "file checksum mismatch; upload restarted")
        return new

    def upload_bytes(self, upload_id: str) -> bytes:
        with self.db.read() as conn:
            return _content(conn, upload_id)

    @staticmethod
    def _row(
        conn: Connection, upload_id: str, kiosk_id: str | None, *, lock: bool
    ) -> tuple[int, int, str]:
        query = select(uploads.c.offset, uploads.c.length, uploads.c.sha256).where(
            uploads.c.id == upload_id
            if kiosk_id is None
            else and_(uploads.c.id == upload_id, uploads.c.kiosk_id == kiosk_id)
        )
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise Refused(404, "no such upload")
        return int(row[0]), int(row[1]), str(row[2])


def _content(conn: Connection, upload_id: str) -> bytes:
    rows = conn.execute(
        select(upload_chunks.c.data)
        .where(upload_chunks.c.upload_id == upload_id)
        .order_by(upload_chunks.c.offset)
    )
    return b"".join(bytes(r[0]) for r in rows)
