"""Retention: what central keeps, and for how long (docs/sync.md, "Retention at central").

- Personal data (entry payloads with ID numbers and names, photo bytes, the photo-to-citizen
  link, the ID number on settled payment orders) goes after ``personal_days`` (default 30):
  long enough for the counter to find a photo and for staff to settle a dispute.
- Idempotency keys (the ``transactions`` rows: key, fingerprint, stored answer) go after
  ``keys_days`` (default 180). A kiosk may resend an entry for as long as it has kept it,
  which is bounded by its offline window and its own audit (``queue.audit_days``, 90): a key
  must outlive that, or a late resend would be stored twice. Until then a replay is still
  recognised by its fingerprint, though its payload is gone.
- Uploads never finished go after a day; staff alerts after ``keys_days``.

``kiosk central maintain --db URL`` runs it (daily, from cron or a timer); it works in
bounded batches so the gateway keeps answering meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update

from central.store.db import Database
from central.store.schema import (
    alerts,
    appointments,
    deliveries,
    documents,
    payments,
    photos,
    transactions,
    upload_chunks,
    uploads,
)

DAY_S = 86_400.0
BATCH = 2_000
ABANDONED_UPLOAD_S = DAY_S
MIN_KEYS_DAYS = 7


@dataclass(frozen=True)
class RetentionPolicy:
    personal_days: float = 30.0
    keys_days: float = 180.0

    def __post_init__(self) -> None:
        if not 0 < self.personal_days <= self.keys_days:
            raise ValueError("personal data must not outlive the idempotency keys")
        if self.keys_days < MIN_KEYS_DAYS:
            raise ValueError(f"idempotency keys must be kept at least {MIN_KEYS_DAYS} days")


class Retention:
    def __init__(self, db: Database) -> None:
        self.db = db

    def purge(self, policy: RetentionPolicy, now: float | None = None) -> dict[str, int]:
        """Apply ``policy`` as of ``now``; returns how many rows each step touched."""
        now = time.time() if now is None else now
        personal = now - policy.personal_days * DAY_S
        keys = now - policy.keys_days * DAY_S
        done = {
            "payloads_erased": self._batched(self._erase_payloads, personal),
            "keys_expired": self._batched(self._expire_keys, keys),
            "uploads_deleted": self._batched(
                self._delete_uploads, personal, now - ABANDONED_UPLOAD_S
            ),
            "photo_links_erased": self._once(self._erase_photo_links, personal),
            "applicant_photos_erased": self._once(self._erase_applicant_photos, personal),
            "payment_ids_erased": self._once(self._erase_payment_ids, personal),
            "delivery_addresses_erased": self._once(self._erase_delivery_addresses, personal),
            "appointment_ids_erased": self._once(self._erase_appointment_ids, personal),
            "alerts_deleted": self._once(self._delete_alerts, keys),
        }
        with self.db.write() as conn:
            self.db.bump(conn, "retention_runs")
        return done

    def _batched(self, step: Any, *cutoffs: float) -> int:
        total = 0
        while True:
            with self.db.write() as conn:
                n = int(step(conn, *cutoffs))
            total += n
            if n < BATCH:
                return total

    def _once(self, step: Any, cutoff: float) -> int:
        with self.db.write() as conn:
            return int(step(conn, cutoff))

    @staticmethod
    def _erase_payloads(conn: Connection, cutoff: float) -> int:
        chosen = (
            select(transactions.c.seq)
            .where(and_(transactions.c.received_at < cutoff, transactions.c.payload.is_not(None)))
            .limit(BATCH)
            .scalar_subquery()
        )
        return conn.execute(
            update(transactions).where(transactions.c.seq.in_(chosen)).values(payload=None)
        ).rowcount

    @staticmethod
    def _expire_keys(conn: Connection, cutoff: float) -> int:
        chosen = (
            select(transactions.c.seq)
            .where(transactions.c.received_at < cutoff)
            .limit(BATCH)
            .scalar_subquery()
        )
        return conn.execute(delete(transactions).where(transactions.c.seq.in_(chosen))).rowcount

    @staticmethod
    def _delete_uploads(conn: Connection, done_cutoff: float, open_cutoff: float) -> int:
        ids = [
            r[0]
            for r in conn.execute(
                select(uploads.c.id)
                .where(
                    or_(
                        uploads.c.created_at < done_cutoff,
                        and_(uploads.c.completed_at.is_(None), uploads.c.created_at < open_cutoff),
                    )
                )
                .limit(BATCH)
            )
        ]
        if ids:
            conn.execute(delete(upload_chunks).where(upload_chunks.c.upload_id.in_(ids)))
            conn.execute(delete(uploads).where(uploads.c.id.in_(ids)))
        return len(ids)

    @staticmethod
    def _erase_photo_links(conn: Connection, cutoff: float) -> int:
        # Photos are dated by day (registered_at): a link older than the cutoff's day goes.
        day = time.strftime("%Y-%m-%d", time.localtime(cutoff))
        return conn.execute(
            update(photos)
            .where(and_(photos.c.registered_at < day, photos.c.id_number.is_not(None)))
            .values(id_number=None)
        ).rowcount

    @staticmethod
    def _erase_applicant_photos(conn: Connection, cutoff: float) -> int:
        # Needed until the document is collected; kept a while after for a dispute.
        return conn.execute(
            update(documents)
            .where(
                and_(
                    documents.c.handed_over_at < cutoff,
                    documents.c.applicant_photo.is_not(None),
                )
            )
            .values(applicant_photo=None)
        ).rowcount

    @staticmethod
    def _erase_delivery_addresses(conn: Connection, cutoff: float) -> int:
        # Long posted by then: the order stays (document, machine, when), not who or where.
        return conn.execute(
            update(deliveries)
            .where(and_(deliveries.c.received_at < cutoff, deliveries.c.address != ""))
            .values(address="", id_number=None)
        ).rowcount

    @staticmethod
    def _erase_appointment_ids(conn: Connection, cutoff: float) -> int:
        return conn.execute(
            update(appointments)
            .where(and_(appointments.c.created_at < cutoff, appointments.c.id_number.is_not(None)))
            .values(id_number=None)
        ).rowcount

    @staticmethod
    def _erase_payment_ids(conn: Connection, cutoff: float) -> int:
        return conn.execute(
            update(payments)
            .where(
                and_(
                    payments.c.created_at < cutoff,
                    payments.c.status != "unpaid",
                    payments.c.id_number != "",
                )
            )
            .values(id_number="")
        ).rowcount

    @staticmethod
    def _delete_alerts(conn: Connection, cutoff: float) -> int:
        return conn.execute(delete(alerts).where(alerts.c.received_at < cutoff)).rowcount
