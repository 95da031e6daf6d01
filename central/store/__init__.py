"""The central store: one interface over SQLite (one file, the embedded default) or
PostgreSQL (a deployment), split by responsibility:

- ``transactions``: idempotent ingest of kiosk entries and idempotent calls
- ``uploads``: resumable uploads
- ``payments``: payment orders and the endorsements they pay for
- ``lookups``: eligibility, permit status, documents ready, photo receipts
- ``heartbeats``: kiosk status and staff alerts
- ``fleet``: the fleet console's accounts, sessions, audit, commands, usage history
- ``appointments``: the green channel's check-in; ``deliveries``: free EMS delivery orders
- ``retention``: what expires when; ``seed``: the demo data a new store starts with
- ``db`` (engine, transactions), ``schema`` (tables), ``migrate`` (Alembic)

``CentralStore`` keeps the methods the gateway, the tests and staff tools call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from central.store import deliveries, schema
from central.store.appointments import Appointments
from central.store.chips import ChipEndorsements
from central.store.common import (
    DEMO_PICKUP_KIOSK,
    KEY_RE,
    MAX_SCHEMA_VERSION,
    OPTIONS,
    PURPOSES,
    REGIONS,
    Option,
    Refused,
    canonical,
    canonical_text,
    fingerprint_text,
    make_id_number,
    stored_text,
)
from central.store.db import Database, describe
from central.store.fleet import Fleet
from central.store.heartbeats import Heartbeats
from central.store.lookups import Lookups
from central.store.migrate import prepare
from central.store.payments import Payments
from central.store.retention import Retention, RetentionPolicy
from central.store.seed import seed
from central.store.transactions import Ingest
from central.store.uploads import Uploads

# Names older callers (and the fingerprint test) import from here.
_canonical_text = canonical_text
_fingerprint_text = fingerprint_text
_stored_text = stored_text

STAT_NAMES = (
    "replays",
    "conflicts",
    "rejected",
    "uploads",
    "upload_bytes",
    "heartbeats",
    "alerts",
    "alerts_malformed",
    "endorsements",
    "payments",
    "refunds",
    "faults",
    "chip_authorisations",
    "chip_writes",
)

__all__ = [
    "DEMO_PICKUP_KIOSK",
    "KEY_RE",
    "MAX_SCHEMA_VERSION",
    "OPTIONS",
    "PURPOSES",
    "REGIONS",
    "CentralStore",
    "Option",
    "Refused",
    "RetentionPolicy",
    "canonical",
    "make_id_number",
]


class CentralStore:
    """Durable state of the central gateway. ``target``: a SQLite file path, or a
    ``postgresql://`` / ``sqlite:///`` URL. Opening migrates the schema and seeds the demo
    data into an empty store (``demo_data=False`` leaves it empty)."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        today: Callable[[], date] | None = None,
        payment_ttl_s: float = 180.0,
        pay_base_url: str = "https://pay.example.org/cashier",
        pool_size: int = 8,
        demo_data: bool = True,
        issuer_key: bytes | None = None,
    ) -> None:
        self.db = Database(target, pool_size=pool_size)
        self.today = today or date.today
        self.payment_ttl_s = payment_ttl_s
        self.pay_base_url = pay_base_url
        try:
            prepare(self.db, seed=seed if demo_data else None, today=self.today())
        except BaseException:
            self.db.close()
            raise
        self.ingest = Ingest(self.db, self.today)
        self.uploads = Uploads(self.db)
        self.lookups = Lookups(self.db, self.today)
        self.payments = Payments(
            self.db, self.today, payment_ttl_s=payment_ttl_s, pay_base_url=pay_base_url
        )
        # The issuer master key (central alone holds it): chip endorsements; None: refused.
        self.chips = ChipEndorsements(self.db, self.payments, self.today, master_key=issuer_key)
        self.heartbeats = Heartbeats(self.db)
        self.retention = Retention(self.db)
        self.fleet = Fleet(self.db)  # the fleet console's part (central/console)
        self.appointments = Appointments(self.db)

    @property
    def url(self) -> str:
        """Where the store is, without a password."""
        return describe(self.db.url)

    def close(self) -> None:
        self.db.close()

    def bump(self, name: str, by: int = 1) -> None:
        with self.db.write() as conn:
            self.db.bump(conn, name, by)

    # ------------------------------------------------------------ transactions
    def ingest_batch(self, kiosk_id: str, entries: list[Any]) -> list[dict[str, Any]]:
        return self.ingest.ingest_batch(kiosk_id, entries)

    def idempotent(
        self,
        kiosk_id: str,
        key: str,
        kind: str,
        request: Any,
        action: Callable[[], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any], bool]:
        return self.ingest.idempotent(kiosk_id, key, kind, request, action)

    def transactions(self) -> list[dict[str, Any]]:
        return self.ingest.transactions()

    def deliveries(self) -> list[dict[str, Any]]:
        return deliveries.orders(self.db)

    # ----------------------------------------------------------------- uploads
    def create_upload(self, kiosk_id: str, length: int, meta: Mapping[str, str]) -> str:
        return self.uploads.create_upload(kiosk_id, length, meta)

    def upload_state(self, upload_id: str, kiosk_id: str | None = None) -> tuple[int, int]:
        return self.uploads.upload_state(upload_id, kiosk_id)

    def append_upload(
        self, upload_id: str, offset: int, data: bytes, kiosk_id: str | None = None
    ) -> int:
        return self.uploads.append_upload(upload_id, offset, data, kiosk_id)

    def upload_bytes(self, upload_id: str) -> bytes:
        return self.uploads.upload_bytes(upload_id)

    # ---------------------------------------------------------------- look-ups
    def eligibility(self, id_number: Any) -> dict[str, Any]:
        return self.lookups.eligibility(id_number)

    def permit_status(self, id_number: Any) -> dict[str, Any]:
        return self.lookups.permit_status(id_number)

    def documents_ready(self, id_number: Any, kiosk_id: str) -> dict[str, Any]:
        return self.lookups.documents_ready(id_number, kiosk_id)

    def set_applicant_photo(self, document_no: str, jpeg: bytes) -> None:
        self.lookups.set_applicant_photo(document_no, jpeg)

    def register_photo(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.lookups.register_photo(kiosk_id, body)

    def photos(self) -> list[dict[str, Any]]:
        return self.lookups.photos()

    # -------------------------------------------------------------- payments
    def create_payment(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        return self.payments.create_payment(kiosk_id, body)

    def issue_endorsement(
        self, kiosk_id: str, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        return self.payments.issue_endorsement(kiosk_id, body)

    def payment_status(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        return self.payments.payment_status(kiosk_id, order_id)

    def cancel_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        return self.payments.cancel_payment(kiosk_id, order_id)

    def refund_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        return self.payments.refund_payment(kiosk_id, order_id)

    def simulate_payment(self, order_id: str) -> dict[str, Any]:
        return self.payments.simulate_payment(order_id)

    # ------------------------------------------------------------- heartbeats
    def heartbeat(self, kiosk_id: str, status: Any) -> list[dict[str, str]]:
        """Store a heartbeat; returns the remote commands waiting for the kiosk."""
        self.heartbeats.heartbeat(kiosk_id, status)
        return self.fleet.on_heartbeat(kiosk_id, status)

    def alerts(self, kiosk_id: str | None = None) -> list[dict[str, Any]]:
        return self.heartbeats.alerts(kiosk_id)

    # -------------------------------------------------------------- retention
    def purge(self, policy: RetentionPolicy, now: float | None = None) -> dict[str, int]:
        done = self.retention.purge(policy, now)
        done.update(self.fleet.purge(time.time() if now is None else now))  # the console's
        return done

    # ------------------------------------------------------------------ stats
    def stats(self) -> dict[str, int]:
        from sqlalchemy import func, select

        with self.db.read() as conn:
            counters = self.db.counter_values(conn)
            stored = conn.execute(select(func.count()).select_from(schema.transactions)).scalar()
        out = {name: int(counters.get(name, 0)) for name in STAT_NAMES}
        out["transactions"] = int(stored or 0)
        out["heartbeats"] = self.heartbeats.count()
        return out
