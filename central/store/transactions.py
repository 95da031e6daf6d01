"""Transaction ingest: each kiosk entry stored once per (kiosk, key), with its business effect
(a photo registered, a document handed over, loaded or unloaded), and the idempotent calls
(payment orders, endorsements) whose first outcome is stored and replayed.

Uniqueness is the database's: a key is claimed by an ``INSERT ... ON CONFLICT DO NOTHING``
inside the transaction that applies the effect, so when two gateway instances get the same
batch, the second waits for the first's commit and then answers from its stored outcome.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update

from central.idnumber import is_valid
from central.store import deliveries
from central.store.common import (
    KEY_RE,
    Refused,
    canonical,
    canonical_text,
    fingerprint_text,
    receipt_code,
    stored_response,
    stored_text,
)
from central.store.db import Database
from central.store.kinds import BatchEntryError, Envelope, Payload, PhotoCaptured, check_entry
from central.store.schema import documents, photos, transactions, uploads

log = logging.getLogger(__name__)


class Ingest:
    def __init__(self, db: Database, today: Callable[[], date]) -> None:
        self.db = db
        self.today = today

    # ------------------------------------------------------------------ batches
    def ingest_batch(self, kiosk_id: str, entries: list[Any]) -> list[dict[str, Any]]:
        """Store each entry once per key, in order. A replay with the same content gets the
        first outcome back; the same key with other content is refused (422), as is an
        entry that fails its kind's checks. Once an entry of a stream fails, later entries
        of that stream in this batch are skipped (424) so the kiosk's per-stream order
        holds; the other streams go on."""
        results: list[dict[str, Any]] = []
        failed_streams: set[str] = set()
        # Counted once per batch: a counter update per entry would double the writes.
        tally: Counter[str] = Counter()
        with self.db.write() as conn:
            for item in entries:
                results.append(self._ingest_one(conn, kiosk_id, item, failed_streams, tally))
            # In name order, so that two batches never wait for each other's counters.
            for name, count in sorted(tally.items()):
                self.db.bump(conn, name, count)
        return results

    def _ingest_one(
        self,
        conn: Connection,
        kiosk_id: str,
        item: Any,
        failed_streams: set[str],
        tally: Counter[str],
    ) -> dict[str, Any]:
        stream = item.get("stream") if isinstance(item, dict) else None
        if isinstance(stream, str) and stream in failed_streams:
            key = item.get("key") if isinstance(item, dict) else None
            return {"key": str(key)[:80], "status": 424, "error": "an earlier entry failed"}
        try:
            envelope, payload = check_entry(item, kiosk_id)
        except BatchEntryError as exc:
            if isinstance(stream, str):
                failed_streams.add(stream)
            tally["rejected"] += 1
            return {"key": exc.key, "status": exc.status, "error": str(exc)}
        assert isinstance(item, dict)
        item.setdefault("attachments", [])
        key = envelope.key
        payload_text = canonical_text(item["payload"])
        fingerprint = hashlib.sha256(fingerprint_text(item, payload_text).encode()).hexdigest()

        def refuse(problem: str, counter: str = "rejected") -> dict[str, Any]:
            failed_streams.add(envelope.stream)
            tally[counter] += 1
            return {"key": key, "status": 422, "error": problem}

        known = self._stored(conn, kiosk_id, key)
        if known is not None:
            if known[0] != fingerprint:
                return refuse("key reused with different content", "conflicts")
            tally["replays"] += 1
            return {**stored_response(key, *known[1:]), "replayed": True}
        problem = self._refusal(conn, kiosk_id, envelope) or _missing_upload(
            conn, kiosk_id, envelope
        )
        if problem:
            return refuse(problem)
        seq = conn.execute(
            self.db.prepared("claim", self._build_claim),
            {
                "kiosk_id": kiosk_id,
                "key": key,
                "kind": envelope.kind,
                "stream": envelope.stream,
                "fingerprint": fingerprint,
                "status": 201,
                # Empty: a 201's answer follows from key and seq (stored_response).
                "response": "",
                "payload": stored_text(item, payload_text),
                "received_at": time.time(),
            },
        ).scalar()
        if seq is None:
            # Another instance stored this key after our look: answer from its record.
            known = self._stored(conn, kiosk_id, key)
            assert known is not None
            if known[0] != fingerprint:
                return refuse("key reused with different content", "conflicts")
            tally["replays"] += 1
            return {**stored_response(key, *known[1:]), "replayed": True}
        self._effects(conn, kiosk_id, envelope, payload)
        return stored_response(key, int(seq), 201, "")

    def _build_claim(self) -> Any:
        """INSERT of a key that does nothing if (kiosk, key) is taken; returns the new seq."""
        return (
            self.db.insert(transactions)
            .on_conflict_do_nothing(index_elements=[transactions.c.kiosk_id, transactions.c.key])
            .returning(transactions.c.seq)
        )

    def _stored(
        self, conn: Connection, kiosk_id: str, key: str
    ) -> tuple[str, int, int, str] | None:
        row = conn.execute(
            self.db.prepared("stored", _build_stored), {"kiosk_id": kiosk_id, "key": key}
        ).first()
        return None if row is None else (str(row[0]), int(row[1]), int(row[2]), str(row[3]))

    def _refusal(self, conn: Connection, kiosk_id: str, entry: Envelope) -> str | None:
        """Why central refuses a well-formed entry for good (the kiosk dead-letters it, so
        staff see it in ``kiosk queue list``), or None. The reason names no document number:
        the kiosk keeps it in clear beside the entry's key."""
        if not entry.kind.startswith("pickup."):
            return None
        number = str(entry.payload["document_no"])
        if entry.kind == deliveries.KIND and (problem := deliveries.refusal(conn, entry.payload)):
            return problem
        row = conn.execute(
            select(documents.c.handed_over_at, documents.c.kiosk_id)
            .where(documents.c.document_no == number)
            .with_for_update()
        ).first()
        if entry.kind in ("pickup.loaded", "pickup.unloaded"):
            if row is None:
                return "no finished document has this number"
            if row[0] is not None:
                return "this document was already handed over"
            return None
        # A handover, retained or uncertain: only the machine holding it can hand it out.
        if row is None:
            return "no finished document has this number"
        if row[1] != kiosk_id:
            return "this document is not held by this machine"
        if row[0] is not None and entry.kind in ("pickup.handover", deliveries.KIND):
            return "this document was already handed over"
        return None

    def _effects(self, conn: Connection, kiosk_id: str, entry: Envelope, payload: Payload) -> None:
        """Business effects of delivered kiosk transactions."""
        data = entry.payload
        if isinstance(payload, PhotoCaptured):
            bound = payload.id_binding.id_number if payload.id_binding else None
            if bound is None and payload.id_number and is_valid(payload.id_number):
                bound = payload.id_number
            sha = entry.attachments[0].sha256 if entry.attachments else ""
            conn.execute(
                self.db.insert(photos)
                .values(
                    photo_number=payload.photo_number,
                    kiosk_id=kiosk_id,
                    sha256=sha,
                    id_number=bound,
                    receipt_code=receipt_code(payload.photo_number),
                    registered_at=self.today().isoformat(),
                )
                .on_conflict_do_nothing(index_elements=[photos.c.photo_number])
            )
        elif entry.kind == "pickup.handover":
            conn.execute(
                update(documents)
                .where(
                    and_(
                        documents.c.document_no == data["document_no"],
                        documents.c.handed_over_at.is_(None),
                    )
                )
                .values(handed_over_at=time.time())
            )
        elif entry.kind == deliveries.KIND:
            deliveries.record(self.db, conn, kiosk_id, data)
        elif entry.kind == "pickup.loaded":
            conn.execute(
                update(documents)
                .where(documents.c.document_no == data["document_no"])
                .values(kiosk_id=kiosk_id, slot=data["slot"])
            )
        elif entry.kind == "pickup.unloaded":
            # To the counter, unless another machine has loaded it since.
            conn.execute(
                update(documents)
                .where(
                    and_(
                        documents.c.document_no == data["document_no"],
                        documents.c.kiosk_id == kiosk_id,
                    )
                )
                .values(kiosk_id=None)
            )

    # ------------------------------------------------------- idempotent calls
    def idempotent(
        self,
        kiosk_id: str,
        key: str,
        kind: str,
        request: Any,
        action: Callable[[], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any], bool]:
        """Run ``action`` once per (kiosk, key) and store its outcome (errors too); replays
        get the stored answer; the same key with another request is refused (422). Keys are
        the calling kiosk's own: another kiosk's key is a different record."""
        if not KEY_RE.match(key):
            raise Refused(400, "bad Idempotency-Key")
        fingerprint = hashlib.sha256(canonical({"kind": kind, "request": request})).hexdigest()
        with self.db.write() as conn:
            # Claim the key first: a concurrent request with it (on any instance) waits here
            # for this transaction and then finds the stored answer.
            stmt = self.db.insert(transactions).values(
                kiosk_id=kiosk_id,
                key=key,
                kind=kind,
                stream=kind,
                fingerprint=fingerprint,
                status=0,
                response="",
                payload=canonical(request).decode(),
                received_at=time.time(),
            )
            seq = conn.execute(
                stmt.on_conflict_do_nothing(
                    index_elements=[transactions.c.kiosk_id, transactions.c.key]
                ).returning(transactions.c.seq)
            ).scalar()
            if seq is None:
                known = self._stored(conn, kiosk_id, key)
                assert known is not None
                conflict = known[0] != fingerprint
                self.db.bump(conn, "conflicts" if conflict else "replays")
            else:
                try:
                    status, body = action()
                except Refused as exc:
                    status, body = exc.status, exc.body
                conn.execute(
                    update(transactions)
                    .where(transactions.c.seq == seq)
                    .values(status=status, response=json.dumps(body))
                )
                return status, body, False
        if conflict:
            raise Refused(422, "Idempotency-Key reused with a different request")
        return int(known[2]), stored_response(key, *known[1:]), True

    # ------------------------------------------------------------------ reading
    def transactions(self) -> list[dict[str, Any]]:
        """Every stored transaction in arrival order (tests and staff tools); ``body`` is
        None once the retention run has erased it."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    transactions.c.seq,
                    transactions.c.key,
                    transactions.c.kiosk_id,
                    transactions.c.kind,
                    transactions.c.stream,
                    transactions.c.payload,
                ).order_by(transactions.c.seq)
            ).all()
        return [
            {
                "seq": r[0],
                "key": r[1],
                "kiosk_id": r[2],
                "kind": r[3],
                "stream": r[4],
                "body": json.loads(r[5]) if r[5] is not None else None,
            }
            for r in rows
        ]


def _build_stored() -> Any:
    return select(
        transactions.c.fingerprint,
        transactions.c.seq,
        transactions.c.status,
        transactions.c.response,
    ).where(
        and_(
            transactions.c.kiosk_id == bindparam("kiosk_id"),
            transactions.c.key == bindparam("key"),
        )
    )


def _missing_upload(conn: Connection, kiosk_id: str, entry: Envelope) -> str | None:
    """An attachment must be a finished upload of this kiosk with the same size and hash."""
    for a in entry.attachments:
        up = conn.execute(
            select(uploads.c.sha256, uploads.c.length, uploads.c.completed_at).where(
                and_(uploads.c.id == a.upload, uploads.c.kiosk_id == kiosk_id)
            )
        ).first()
        if up is None or up[2] is None or up[0] != a.sha256 or up[1] != a.size:
            return f"attachment {a.name} not uploaded"
    return None
