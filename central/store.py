"""The central store: idempotent transaction ingest, resumable uploads, heartbeats and the
look-ups the kiosk flows need (eligibility, payment orders, endorsement issue, documents
ready, photo receipts). One SQLite file (WAL, synchronous=FULL); every method is serialised
by a lock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from central.idnumber import check_char, is_valid

# The demo's pickup machine (configs/pickup.toml), where the seeded documents are loaded.
DEMO_PICKUP_KIOSK = "SZ-FT-K01"
LOCAL_PROVINCE = "44"  # the administration's own province (Guangdong in the demo data)
VALIDITY_MARGIN_DAYS = 20  # permit must outlive the endorsement by about 20 days
MAX_SCHEMA_VERSION = 2
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
ORDER_ID_RE = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Option:
    code: str
    trips: str
    validity_days: int
    fee_cny: int


# Fees published for the non-tax revenue system (domain.md).
OPTIONS = (
    Option("one_trip", "one", 90, 15),
    Option("two_trips", "two", 90, 30),
    Option("multi_1y", "multiple", 365, 80),
    Option("multi_2y", "multiple", 730, 120),
    Option("multi_3y", "multiple", 1095, 160),
    Option("multi_5y", "multiple", 1825, 240),
)
REGIONS = ("HK", "MO")
PURPOSES = ("individual", "group", "family_visit", "business")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kiosk_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    stream TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at REAL NOT NULL,
    completed_at REAL
);
CREATE TABLE IF NOT EXISTS heartbeats (
    kiosk_id TEXT PRIMARY KEY, at REAL NOT NULL, status TEXT NOT NULL, count INTEGER NOT NULL
);
-- Staff alerts kiosks report with their heartbeats; one row per (kiosk, alert id), so a
-- heartbeat resent after a lost answer stores nothing twice.
CREATE TABLE IF NOT EXISTS alerts (
    kiosk_id TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (kiosk_id, alert_id)
);
CREATE TABLE IF NOT EXISTS citizens (
    id_number TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    permit_no TEXT NOT NULL,
    permit_expiry TEXT NOT NULL,
    first_application INTEGER NOT NULL,
    registered_personnel INTEGER NOT NULL,
    endorsement_until TEXT,
    permit_used INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS endorsements (
    endorsement_no TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    option TEXT NOT NULL,
    region TEXT NOT NULL,
    purpose TEXT NOT NULL,
    fee_cny INTEGER NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL
);
-- kiosk_id: the pickup machine the document was loaded into (NULL: kept at the service
-- counter). A machine offers only what it holds; the citizen is told where the rest is.
CREATE TABLE IF NOT EXISTS documents (
    document_no TEXT PRIMARY KEY,
    id_number TEXT NOT NULL,
    kind TEXT NOT NULL,
    slot TEXT NOT NULL,
    ready_since TEXT NOT NULL,
    handed_over_at REAL,
    kiosk_id TEXT
);
CREATE TABLE IF NOT EXISTS photos (
    photo_number TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    id_number TEXT,
    receipt_code TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
-- Payment orders for the endorsement fee: the reference central stands in for the non-tax
-- revenue payment platform. One order pays for one endorsement (endorsement_no once used).
CREATE TABLE IF NOT EXISTS payments (
    order_id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    id_number TEXT NOT NULL,
    option TEXT NOT NULL,
    region TEXT NOT NULL,
    purpose TEXT NOT NULL,
    amount_cny INTEGER NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('unpaid','paid','cancelled','expired','refunded')),
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    paid_at REAL,
    endorsement_no TEXT
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Refused(Exception):
    """A request the service answers with an error status and a JSON reason."""

    # Positional-only, so ``extra`` may carry a field named ``status`` (an order's state).
    def __init__(self, status: int, error: str, /, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}


@dataclass(frozen=True)
class _Choice:
    """A renewal choice central has checked (``_checked_choice``)."""

    id_number: str
    option: Option
    region: str
    purpose: str


_ORDER_COLUMNS = (
    "order_id, kiosk_id, id_number, option, region, purpose, amount_cny, status, "
    "created_at, expires_at, paid_at, endorsement_no"
)


@dataclass(frozen=True)
class _Order:
    """A row of ``payments`` (columns as ``_ORDER_COLUMNS``)."""

    order_id: str
    kiosk_id: str
    id_number: str
    option: str
    region: str
    purpose: str
    amount_cny: int
    status: str
    created_at: float
    expires_at: float
    paid_at: float | None
    endorsement_no: str | None

    def answer(self, now: float) -> dict[str, Any]:
        """What a kiosk is told; ``expires_in_s`` counts only while the order awaits payment."""
        left = self.expires_at - now if self.status == "unpaid" else 0.0
        return {
            "order_id": self.order_id,
            "status": self.status,
            "amount_cny": self.amount_cny,
            "expires_in_s": max(0, int(left)),
            "endorsement_no": self.endorsement_no,
        }


def make_id_number(region6: str, birth: str, serial3: str) -> str:
    first17 = region6 + birth + serial3
    return first17 + check_char(first17)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class CentralStore:
    """Durable state of the reference central service."""

    def __init__(
        self,
        path: str | Path,
        *,
        today: Callable[[], date] | None = None,
        payment_ttl_s: float = 180.0,
        pay_base_url: str = "https://pay.example.org/cashier",
    ) -> None:
        self.path = Path(path)
        self.payment_ttl_s = payment_ttl_s
        self.pay_base_url = pay_base_url
        self.uploads_dir = Path(str(self.path) + ".uploads")
        self.uploads_dir.mkdir(parents=True, exist_ok=True)
        self.today = today or date.today
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._add_document_holders()
        if not self._conn.execute("SELECT 1 FROM citizens LIMIT 1").fetchone():
            self._seed()

    def _add_document_holders(self) -> None:
        """A store from before ``documents.kiosk_id``: its documents were all seeded for the
        demo pickup machine, so they stay there."""
        columns = {r[1] for r in self._conn.execute("PRAGMA table_info(documents)")}
        if "kiosk_id" not in columns:
            self._conn.executescript(
                "BEGIN IMMEDIATE; ALTER TABLE documents ADD COLUMN kiosk_id TEXT; "
                f"UPDATE documents SET kiosk_id='{DEMO_PICKUP_KIOSK}'; COMMIT;"
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _tx(self) -> _Tx:
        return _Tx(self._conn, self._lock)

    def _bump(self, name: str, by: int = 1) -> None:
        self._conn.execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=value+?",
            (name, by, by),
        )

    def bump(self, name: str, by: int = 1) -> None:
        with self._tx():
            self._bump(name, by)

    # ------------------------------------------------------------- demo data
    def _seed(self) -> None:
        """Demo citizens: some eligible, some refused for each reason, some with documents."""
        today = self.today()

        def d(days: int) -> str:
            return (today + timedelta(days=days)).isoformat()

        citizens = [
            # id number, name, permit expiry, first app, registered, endorsement until, used
            (make_id_number("440304", "19900307", "123"), "Chen Wei", d(3000), 0, 0, None, 1),
            (make_id_number("440106", "19851122", "456"), "Li Na", d(2500), 0, 0, d(-30), 1),
            (make_id_number("440305", "20000101", "789"), "Wang Fang", d(1500), 0, 0, None, 1),
            (make_id_number("440303", "19770615", "234"), "Zhao Lei", d(3000), 1, 0, None, 0),
            (make_id_number("440104", "19680912", "345"), "Sun Qiang", d(3000), 0, 1, None, 1),
            (make_id_number("440307", "19920420", "567"), "Zhou Min", d(3000), 0, 0, d(60), 1),
            (make_id_number("110105", "19880808", "678"), "Wu Gang", d(3000), 0, 0, None, 0),
            (make_id_number("440308", "19950218", "891"), "Zheng Hui", d(100), 0, 0, None, 1),
            (make_id_number("440306", "19600101", "902"), "Feng Yu", d(200), 0, 0, None, 1),
        ]
        # The demo's virtual permit chip (devices/simulators/vcard.py DEFAULT_MRZ) belongs to
        # this citizen, so a renewal can be walked through end to end with the simulator.
        zhang = (make_id_number("440304", "19900101", "135"), "Zhang San", "2030-01-01")
        with self._tx():
            for n, (idn, name, expiry, first, reg, until, used) in enumerate(citizens):
                self._conn.execute(
                    "INSERT INTO citizens VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (idn, name, f"C{10_000_000 + n * 7919:08d}", expiry, first, reg, until, used),
                )
            self._conn.execute(
                "INSERT INTO citizens VALUES (?, ?, ?, ?, 0, 0, NULL, 1)",
                (zhang[0], zhang[1], "C12345678", zhang[2]),
            )
            # The endorsements behind Li Na's (expired) and Zhou Min's (valid) end dates.
            for n, (idn, code, fee, start, until) in enumerate(
                [
                    (citizens[1][0], "multi_1y", 80, d(-395), d(-30)),
                    (citizens[5][0], "two_trips", 30, d(-30), d(60)),
                ]
            ):
                self._conn.execute(
                    "INSERT INTO endorsements VALUES (?, ?, ?, 'HK', 'individual', ?, ?, ?)",
                    (f"E{today:%Y%m%d}S{n:05d}", idn, code, fee, start, until),
                )
            here = DEMO_PICKUP_KIOSK
            docs = [
                (citizens[0][0], "hk_macau_permit", "A01", here),
                (citizens[2][0], "passport", "A02", here),
                (citizens[2][0], "taiwan_permit", "B07", here),
                # Zhou Min's permit is in another pickup machine, Zheng Hui's at the counter.
                (citizens[5][0], "hk_macau_permit", "A03", "SZ-FT-K02"),
                (citizens[7][0], "passport", "-", None),
            ]
            for n, (idn, kind, slot, kiosk) in enumerate(docs):
                self._conn.execute(
                    "INSERT INTO documents (document_no, id_number, kind, slot, ready_since, "
                    "kiosk_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (f"D{today:%Y%m%d}{n:04d}", idn, kind, slot, d(-2), kiosk),
                )

    # --------------------------------------------------------- transactions
    def ingest_batch(self, kiosk_id: str, entries: list[Any]) -> list[dict[str, Any]]:
        """Store each entry once per key, in order. A replay with the same content gets the
        first outcome back; the same key with other content is refused (422). Once an entry
        of a stream fails, later entries of that stream in this batch are skipped (424) so
        the kiosk's per-stream order holds."""
        results: list[dict[str, Any]] = []
        failed_streams: set[str] = set()
        # Counted once per batch: a counter row update per entry would double the writes.
        tally: Counter[str] = Counter()
        with self._tx():
            for item in entries:
                result = self._ingest_one(kiosk_id, item, failed_streams, tally)
                results.append(result)
            for name, count in tally.items():
                self._bump(name, count)
        return results

    def _ingest_one(
        self, kiosk_id: str, item: Any, failed_streams: set[str], tally: Counter[str]
    ) -> dict[str, Any]:
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not KEY_RE.match(key):
            return {"key": str(key)[:80], "status": 400, "error": "bad or missing key"}
        stream = item.get("stream")
        if not isinstance(stream, str) or not stream:
            return {"key": key, "status": 422, "error": "bad or missing stream"}
        if stream in failed_streams:
            return {"key": key, "status": 424, "error": "an earlier entry of the stream failed"}
        problem = self._validate_entry(item)
        if problem:
            failed_streams.add(stream)
            tally["rejected"] += 1
            return {"key": key, "status": 422, "error": problem}
        payload = _canonical_text(item["payload"])
        fingerprint = hashlib.sha256(_fingerprint_text(item, payload).encode()).hexdigest()
        row = self._conn.execute(
            "SELECT fingerprint, seq, status, response FROM transactions WHERE key=?", (key,)
        ).fetchone()
        if row is not None:
            if row[0] != fingerprint:
                tally["conflicts"] += 1
                failed_streams.add(stream)
                return {"key": key, "status": 422, "error": "key reused with different content"}
            tally["replays"] += 1
            return {**_stored_response(key, *row[1:]), "replayed": True}
        problem = self._refusal(item)
        if problem:
            failed_streams.add(stream)
            tally["rejected"] += 1
            return {"key": key, "status": 422, "error": problem}
        for a in item["attachments"]:
            up = self._conn.execute(
                "SELECT sha256, length, completed_at FROM uploads WHERE id=?", (a["upload"],)
            ).fetchone()
            if up is None or up[2] is None or up[0] != a["sha256"] or up[1] != a["size"]:
                failed_streams.add(stream)
                return {"key": key, "status": 422, "error": f"attachment {a['name']} not uploaded"}
        # The stored response stays empty: a 201's answer follows from key and seq
        # (_stored_response), which saves an update per entry.
        cur = self._conn.execute(
            "INSERT INTO transactions (key, kiosk_id, kind, stream, fingerprint, status, "
            "response, payload, received_at) VALUES (?, ?, ?, ?, ?, 201, '', ?, ?)",
            (
                key,
                kiosk_id,
                item["kind"],
                stream,
                fingerprint,
                _stored_text(item, payload),
                time.time(),
            ),
        )
        tally["transactions"] += 1
        self._effects(kiosk_id, item)
        return _stored_response(key, int(cur.lastrowid or 0), 201, "")

    @staticmethod
    def _validate_entry(item: dict[str, Any]) -> str | None:
        kind = item.get("kind")
        version = item.get("schema_version")
        if not isinstance(kind, str) or not kind:
            return "bad or missing kind"
        if not isinstance(version, int) or not 1 <= version <= MAX_SCHEMA_VERSION:
            return f"unsupported schema version {version!r}"
        if not isinstance(item.get("payload"), dict):
            return "payload must be an object"
        atts = item.get("attachments", [])
        if not isinstance(atts, list):
            return "attachments must be a list"
        for a in atts:
            if not (
                isinstance(a, dict)
                and isinstance(a.get("name"), str)
                and isinstance(a.get("sha256"), str)
                and isinstance(a.get("size"), int)
                and isinstance(a.get("upload"), str)
            ):
                return "malformed attachment reference"
        item.setdefault("attachments", atts)
        return None

    def _refusal(self, item: dict[str, Any]) -> str | None:
        """Why central refuses a well-formed entry for good (the kiosk dead-letters it, so
        staff see it in ``kiosk queue list``), or None. The reason names no document number:
        the kiosk keeps it in clear beside the entry's key."""
        payload = item["payload"]
        if item["kind"] not in ("pickup.loaded", "pickup.unloaded"):
            return None
        number = payload.get("document_no")
        if item["kind"] == "pickup.loaded" and not (
            isinstance(payload.get("slot"), str) and payload["slot"]
        ):
            return "a loaded document needs its slot"
        row = self._conn.execute(
            "SELECT handed_over_at FROM documents WHERE document_no=?", (str(number),)
        ).fetchone()
        if row is None:
            return "no finished document has this number"
        if row[0] is not None:
            return "this document was already handed over"
        return None

    def _effects(self, kiosk_id: str, item: dict[str, Any]) -> None:
        """Business effects of delivered kiosk transactions."""
        payload = item["payload"]
        if item["kind"] == "photo.captured" and isinstance(payload.get("photo_number"), str):
            sha = item["attachments"][0]["sha256"] if item["attachments"] else ""
            self._conn.execute(
                "INSERT OR IGNORE INTO photos VALUES (?, ?, ?, ?, ?, ?)",
                (
                    payload["photo_number"],
                    kiosk_id,
                    sha,
                    payload.get("id_number"),
                    _receipt_code(payload["photo_number"]),
                    self.today().isoformat(),
                ),
            )
        elif item["kind"] == "pickup.handover" and isinstance(payload.get("document_no"), str):
            self._conn.execute(
                "UPDATE documents SET handed_over_at=? WHERE document_no=? "
                "AND handed_over_at IS NULL",
                (time.time(), payload["document_no"]),
            )
        elif item["kind"] == "pickup.loaded":
            self._conn.execute(
                "UPDATE documents SET kiosk_id=?, slot=? WHERE document_no=?",
                (kiosk_id, payload["slot"], payload["document_no"]),
            )
        elif item["kind"] == "pickup.unloaded":
            # To the counter, unless another machine has loaded it since.
            self._conn.execute(
                "UPDATE documents SET kiosk_id=NULL WHERE document_no=? AND kiosk_id=?",
                (payload["document_no"], kiosk_id),
            )

    def idempotent(
        self,
        kiosk_id: str,
        key: str,
        kind: str,
        request: Any,
        action: Callable[[], tuple[int, dict[str, Any]]],
    ) -> tuple[int, dict[str, Any], bool]:
        """Run ``action`` once per key and store its outcome (errors too); replays get the
        stored answer; the same key with another request is refused (422)."""
        if not KEY_RE.match(key):
            raise Refused(400, "bad Idempotency-Key")
        fingerprint = hashlib.sha256(canonical({"kind": kind, "request": request})).hexdigest()
        conflict = False
        with self._tx():
            row = self._conn.execute(
                "SELECT fingerprint, seq, status, response FROM transactions WHERE key=?", (key,)
            ).fetchone()
            if row is not None:
                # Counted inside the transaction; refused after it commits.
                conflict = row[0] != fingerprint
                self._bump("conflicts" if conflict else "replays")
        if conflict:
            raise Refused(422, "Idempotency-Key reused with a different request")
        if row is not None:
            return int(row[2]), _stored_response(key, *row[1:]), True
        with self._tx():
            row = self._conn.execute(
                "SELECT seq, status, response FROM transactions WHERE key=?", (key,)
            ).fetchone()
            if row is not None:  # a concurrent request with the same key got there first
                return int(row[1]), _stored_response(key, *row), True
            try:
                status, body = action()
            except Refused as exc:
                status, body = exc.status, exc.body
            self._conn.execute(
                "INSERT INTO transactions (key, kiosk_id, kind, stream, fingerprint, status, "
                "response, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    kiosk_id,
                    kind,
                    kind,
                    fingerprint,
                    status,
                    json.dumps(body),
                    canonical(request).decode(),
                    time.time(),
                ),
            )
            self._bump("transactions")
        return status, body, False

    # --------------------------------------------------------------- uploads
    def create_upload(self, kiosk_id: str, length: int, meta: Mapping[str, str]) -> str:
        upload_id = uuid.uuid4().hex
        sha = meta.get("sha256", "")
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise Refused(400, "Upload-Metadata must carry the sha256 of the file")
        with self._tx():
            self._conn.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, 0, ?, ?, ?, ?, NULL)",
                (
                    upload_id,
                    kiosk_id,
                    length,
                    meta.get("filename", "")[:100],
                    meta.get("content_type", "application/octet-stream")[:100],
                    sha,
                    time.time(),
                ),
            )
            self._bump("uploads")
        (self.uploads_dir / upload_id).write_bytes(b"")
        return upload_id

    def upload_state(self, upload_id: str) -> tuple[int, int]:
        with self._lock:
            row = self._conn.execute(
                "SELECT offset, length FROM uploads WHERE id=?", (upload_id,)
            ).fetchone()
        if row is None:
            raise Refused(404, "no such upload")
        return int(row[0]), int(row[1])

    def append_upload(self, upload_id: str, offset: int, data: bytes) -> int:
        with self._tx():
            row = self._conn.execute(
                "SELECT offset, length, sha256 FROM uploads WHERE id=?", (upload_id,)
            ).fetchone()
            if row is None:
                raise Refused(404, "no such upload")
            current, length, sha = int(row[0]), int(row[1]), str(row[2])
            if offset != current:
                raise Refused(409, "Upload-Offset mismatch", offset=current)
            if current + len(data) > length:
                raise Refused(413, "more data than Upload-Length")
            target = self.uploads_dir / upload_id
            with target.open("r+b") as f:
                f.seek(current)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            new = current + len(data)
            completed = None
            if new == length:
                if hashlib.sha256(target.read_bytes()).hexdigest() != sha:
                    # The whole file does not match: start again from zero.
                    target.write_bytes(b"")
                    self._conn.execute("UPDATE uploads SET offset=0 WHERE id=?", (upload_id,))
                    raise Refused(460, "file checksum mismatch; upload restarted")
                completed = time.time()
            self._conn.execute(
                "UPDATE uploads SET offset=?, completed_at=? WHERE id=?",
                (new, completed, upload_id),
            )
            self._bump("upload_bytes", len(data))
        return new

    def upload_bytes(self, upload_id: str) -> bytes:
        return (self.uploads_dir / upload_id).read_bytes()

    # ------------------------------------------------------------- look-ups
    def _citizen(self, id_number: str) -> tuple[Any, ...]:
        if not isinstance(id_number, str) or not is_valid(id_number):
            raise Refused(422, "invalid ID number")
        row = self._conn.execute(
            "SELECT id_number, name, permit_no, permit_expiry, first_application, "
            "registered_personnel, endorsement_until, permit_used FROM citizens "
            "WHERE id_number=?",
            (id_number,),
        ).fetchone()
        if row is None:
            raise Refused(404, "no record for this person")
        return tuple(row)

    def eligibility(self, id_number: str) -> dict[str, Any]:
        with self._lock:
            return self._eligibility(id_number)

    def _eligibility(self, id_number: str) -> dict[str, Any]:
        c = self._citizen(id_number)
        today = self.today()
        reasons: list[str] = []
        if c[4]:
            reasons.append("first_application")
        if c[5]:
            reasons.append("registered_personnel")
        if c[6] and date.fromisoformat(c[6]) >= today:
            reasons.append("endorsement_still_valid")
        if id_number[:2] != LOCAL_PROVINCE and not c[7]:
            reasons.append("out_of_province_first_use")
        expiry = date.fromisoformat(c[3])
        options = [
            o
            for o in OPTIONS
            if expiry >= today + timedelta(days=o.validity_days + VALIDITY_MARGIN_DAYS)
        ]
        if not options:
            reasons.append("permit_validity_too_short")
        if reasons:
            options = []
        return {
            "eligible": not reasons,
            # BAC access data of the permit on record: the kiosk opens the chip with it.
            "permit": _permit_access(id_number, c[2], c[3]),
            "reasons": reasons,
            "options": [o.__dict__ for o in options],
            "regions": list(REGIONS) if not reasons else [],
            "purposes": list(PURPOSES) if not reasons else [],
        }

    def _checked_choice(self, body: Mapping[str, Any]) -> _Choice:
        """What a payment order and the endorsement it pays for both need: a known, eligible
        citizen, a known region and purpose, and an option offered to this person."""
        id_number = body.get("id_number")
        if not isinstance(id_number, str):
            raise Refused(422, "id_number required")
        region, purpose, code = body.get("region"), body.get("purpose"), body.get("option")
        if region not in REGIONS or purpose not in PURPOSES:
            raise Refused(422, "unknown region or purpose")
        verdict = self._eligibility(id_number)
        if not verdict["eligible"]:
            raise Refused(422, "not eligible", reasons=verdict["reasons"])
        offered = {o["code"] for o in verdict["options"]}
        option = next((o for o in OPTIONS if o.code == code and code in offered), None)
        if option is None:
            raise Refused(422, "option not offered to this person")
        return _Choice(id_number, option, str(region), str(purpose))

    def issue_endorsement(
        self, kiosk_id: str, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Runs inside ``idempotent`` (lock held, transaction open). Needs ``payment``: a
        paid, unused order of this kiosk for exactly this choice; its amount is the fee."""
        order = self._paid_order(kiosk_id, body)
        choice = self._checked_choice(body)
        today = self.today()
        until = today + timedelta(days=choice.option.validity_days)
        self._bump("endorsements")
        number = self._conn.execute(
            "SELECT value FROM counters WHERE name='endorsements'"
        ).fetchone()[0]
        endorsement_no = f"E{today:%Y%m%d}{number:06d}"
        self._conn.execute(
            "INSERT INTO endorsements VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                endorsement_no,
                choice.id_number,
                choice.option.code,
                choice.region,
                choice.purpose,
                order.amount_cny,
                today.isoformat(),
                until.isoformat(),
            ),
        )
        self._conn.execute(
            "UPDATE citizens SET endorsement_until=?, permit_used=1 WHERE id_number=?",
            (until.isoformat(), choice.id_number),
        )
        self._conn.execute(
            "UPDATE payments SET endorsement_no=? WHERE order_id=?",
            (endorsement_no, order.order_id),
        )
        return 201, {
            "endorsement_no": endorsement_no,
            "option": choice.option.code,
            "region": choice.region,
            "purpose": choice.purpose,
            "fee_cny": order.amount_cny,
            "valid_from": today.isoformat(),
            "valid_until": until.isoformat(),
        }

    # -------------------------------------------------------- payment orders
    def create_payment(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Runs inside ``idempotent`` (lock held, transaction open). Central sets the amount
        from its own fee table: the kiosk never sends one."""
        choice = self._checked_choice(body)
        order_id = uuid.uuid4().hex
        now = time.time()
        self._conn.execute(
            "INSERT INTO payments (order_id, kiosk_id, id_number, option, region, purpose, "
            "amount_cny, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                order_id,
                kiosk_id,
                choice.id_number,
                choice.option.code,
                choice.region,
                choice.purpose,
                choice.option.fee_cny,
                "unpaid",
                now,
                now + self.payment_ttl_s,
            ),
        )
        self._bump("payments")
        return 201, {
            "order_id": order_id,
            "status": "unpaid",
            "amount_cny": choice.option.fee_cny,
            "expires_in_s": int(self.payment_ttl_s),
            "pay_url": f"{self.pay_base_url}?order={order_id}",
        }

    def payment_status(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        now = time.time()
        with self._tx():
            order = self._order(order_id, kiosk_id, now)
        return order.answer(now)

    def cancel_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """An unpaid order is cancelled; any other stays as it is: a paid one means the
        citizen paid in the meantime, so the kiosk issues (or refunds) instead."""
        now = time.time()
        with self._tx():
            order = self._order(order_id, kiosk_id, now)
            if order.status == "unpaid":
                order = self._set_status(order, "cancelled")
        return order.answer(now)

    def refund_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """A paid order no endorsement used is refunded; a refunded one answers as it is."""
        now = time.time()
        with self._tx():
            order = self._order(order_id, kiosk_id, now)
            if order.status == "paid" and order.endorsement_no is None:
                order = self._set_status(order, "refunded")
                self._bump("refunds")
        # Refused after the commit, so an expiry noticed on the way is kept.
        if order.status != "refunded":
            reason = "paid for an issued endorsement" if order.endorsement_no else "not paid"
            raise Refused(409, f"order cannot be refunded: {reason}", status=order.status)
        return order.answer(now)

    def simulate_payment(self, order_id: str) -> dict[str, Any]:
        """The citizen pays with a phone: what the payment platform's notice would do."""
        now = time.time()
        with self._tx():
            order = self._order(order_id, None, now)
            payable = order.status == "unpaid"
            if payable:
                order = self._set_status(order, "paid", paid_at=now)
        if not payable:
            message = f"order is {order.status}, not awaiting payment"
            raise Refused(409, message, status=order.status)
        return order.answer(now)

    def _order(self, order_id: str, kiosk_id: str | None, now: float) -> _Order:
        """The order as of ``now`` (lock held, transaction open); an unpaid order past its
        time is marked expired here, so every reader sees the same state. Another kiosk's
        order is unknown (404) to the caller; ``kiosk_id`` None (admin) reads any."""
        row = self._conn.execute(
            f"SELECT {_ORDER_COLUMNS} FROM payments WHERE order_id=?", (order_id,)
        ).fetchone()
        if row is None or kiosk_id not in (None, row[1]):
            raise Refused(404, "no such payment order")
        order = _Order(*row)
        if order.status == "unpaid" and now >= order.expires_at:
            return self._set_status(order, "expired")
        return order

    def _set_status(self, order: _Order, status: str, paid_at: float | None = None) -> _Order:
        self._conn.execute(
            "UPDATE payments SET status=?, paid_at=COALESCE(?, paid_at) WHERE order_id=?",
            (status, paid_at, order.order_id),
        )
        return replace(order, status=status, paid_at=paid_at or order.paid_at)

    def _paid_order(self, kiosk_id: str, body: Mapping[str, Any]) -> _Order:
        """The order named by ``payment``: this kiosk's, for exactly this choice, paid and
        not yet used for an endorsement. Anything else is refused (422)."""
        order_id = body.get("payment")
        if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
            raise Refused(422, "payment required: the id of a paid order")
        try:
            order = self._order(order_id, kiosk_id, time.time())
        except Refused:
            raise Refused(422, "no such payment order") from None
        chosen = tuple(body.get(k) for k in ("id_number", "option", "region", "purpose"))
        if chosen != (order.id_number, order.option, order.region, order.purpose):
            raise Refused(422, "the payment order is for another person or choice")
        if order.status != "paid":
            raise Refused(422, f"the payment order is {order.status}, not paid")
        if order.endorsement_no is not None:
            raise Refused(422, "the payment order has already paid for an endorsement")
        return order

    def permit_status(self, id_number: str) -> dict[str, Any]:
        """What the query service shows: permit validity and the current endorsement."""
        with self._lock:
            c = self._citizen(id_number)
            row = self._conn.execute(
                "SELECT option, region, valid_from, valid_until FROM endorsements "
                "WHERE id_number=? ORDER BY valid_until DESC LIMIT 1",
                (id_number,),
            ).fetchone()
        today = self.today()
        endorsement: dict[str, Any] | None = None
        if row is not None:
            trips = next((o.trips for o in OPTIONS if o.code == row[0]), "multiple")
            endorsement = {
                "option": row[0],
                "region": row[1],
                "trips": trips,
                "valid_from": row[2],
                "valid_until": row[3],
            }
        elif c[6]:  # issued before this store kept endorsements: only the end date is known
            endorsement = {
                "option": "",
                "region": "",
                "trips": "",
                "valid_from": "",
                "valid_until": c[6],
            }
        if endorsement is not None:
            endorsement["valid"] = date.fromisoformat(endorsement["valid_until"]) >= today
        return {
            "permit_expiry": c[3],
            "permit_days_left": (date.fromisoformat(c[3]) - today).days,
            "endorsement": endorsement,
        }

    def documents_ready(self, id_number: str, kiosk_id: str) -> dict[str, Any]:
        """Documents ready for this person in this pickup machine, and how many wait
        elsewhere (another machine, or the counter: ``kiosk_id`` null)."""
        with self._lock:
            self._citizen(id_number)
            rows = self._conn.execute(
                "SELECT document_no, kind, slot, ready_since, kiosk_id FROM documents "
                "WHERE id_number=? AND handed_over_at IS NULL ORDER BY document_no",
                (id_number,),
            ).fetchall()
        here = [r for r in rows if r[4] == kiosk_id]
        elsewhere = Counter(r[4] for r in rows if r[4] != kiosk_id)
        return {
            "documents": [
                {"document_no": r[0], "kind": r[1], "slot": r[2], "ready_since": r[3]} for r in here
            ],
            "elsewhere": [
                {"kiosk_id": k, "count": n}
                for k, n in sorted(elsewhere.items(), key=lambda kn: (kn[0] is None, kn[0] or ""))
            ],
        }

    def register_photo(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        number, sha = body.get("photo_number"), body.get("sha256")
        if not isinstance(number, str) or not KEY_RE.match(number) or not isinstance(sha, str):
            raise Refused(422, "photo_number and sha256 required")
        id_number = body.get("id_number")
        if id_number is not None and (not isinstance(id_number, str) or not is_valid(id_number)):
            raise Refused(422, "invalid ID number")
        conflict = False
        with self._tx():
            row = self._conn.execute(
                "SELECT sha256, receipt_code, registered_at FROM photos WHERE photo_number=?",
                (number,),
            ).fetchone()
            if row is not None:
                # Counted inside the transaction; refused after it commits.
                conflict = row[0] not in (sha, "")
                self._bump("conflicts" if conflict else "replays")
            else:
                registered = self.today().isoformat()
                code = _receipt_code(number)
                self._conn.execute(
                    "INSERT INTO photos VALUES (?, ?, ?, ?, ?, ?)",
                    (number, kiosk_id, sha, id_number, code, registered),
                )
        if conflict:
            raise Refused(422, "photo number already registered with another photo")
        if row is not None:
            return 200, {"photo_number": number, "receipt_code": row[1], "registered_at": row[2]}
        return 201, {"photo_number": number, "receipt_code": code, "registered_at": registered}

    def heartbeat(self, kiosk_id: str, status: Any) -> None:
        """The kiosk's latest status, and each staff alert it carries (kept, once)."""
        if not isinstance(status, dict):
            raise Refused(400, "heartbeat must be an object")
        alerts = status.pop("alerts", [])
        # One malformed alert must not cost the kiosk its heartbeats (it would resend the
        # same list for ever): the well-formed ones are stored, the rest counted.
        listed = alerts if isinstance(alerts, list) else [alerts]
        alerts = [a for a in listed if _is_alert(a)]
        malformed = len(listed) - len(alerts)
        now = time.time()
        with self._tx():
            self._conn.execute(
                "INSERT INTO heartbeats VALUES (?, ?, ?, 1) ON CONFLICT(kiosk_id) DO UPDATE "
                "SET at=excluded.at, status=excluded.status, count=count+1",
                (kiosk_id, now, json.dumps(status)[:10_000]),
            )
            self._bump("heartbeats")
            new = 0
            for a in alerts:
                new += self._conn.execute(
                    "INSERT OR IGNORE INTO alerts VALUES (?, ?, ?, ?, ?, ?)",
                    (kiosk_id, a["id"], a["code"][:64], a["message"][:500], a["at"][:40], now),
                ).rowcount
            if new:
                self._bump("alerts", new)
            if malformed:
                self._bump("alerts_malformed", malformed)

    def alerts(self, kiosk_id: str | None = None) -> list[dict[str, Any]]:
        """Stored staff alerts, oldest first (monitoring, staff tools and tests)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kiosk_id, alert_id, code, message, raised_at, received_at FROM alerts "
                "WHERE ? IS NULL OR kiosk_id = ? ORDER BY received_at, rowid",
                (kiosk_id, kiosk_id),
            ).fetchall()
        names = ("kiosk_id", "id", "code", "message", "at", "received_at")
        return [dict(zip(names, r, strict=True)) for r in rows]

    # ---------------------------------------------------------------- stats
    def stats(self) -> dict[str, int]:
        with self._lock:
            counters = dict(self._conn.execute("SELECT name, value FROM counters").fetchall())
            stored = self._conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
        out = {
            name: int(counters.get(name, 0))
            for name in (
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
            )
        }
        out["transactions"] = int(stored)
        return out

    def transactions(self) -> list[dict[str, Any]]:
        """Every stored transaction in arrival order (tests and staff tools)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, key, kiosk_id, kind, stream, payload FROM transactions ORDER BY seq"
            ).fetchall()
        return [
            {
                "seq": r[0],
                "key": r[1],
                "kiosk_id": r[2],
                "kind": r[3],
                "stream": r[4],
                "body": json.loads(r[5]),
            }
            for r in rows
        ]


def _is_alert(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(value.get(k), str) for k in ("id", "code", "message", "at"))
        and 0 < len(value["id"]) <= 64
        and bool(value["code"])
    )


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical_text(value: Any) -> str:
    return _CANONICAL.encode(value)


def _fingerprint_text(item: dict[str, Any], payload: str) -> str:
    """``canonical({attachments, kind, payload, schema_version, stream})`` as text, with
    the payload serialised once by the caller (it is most of an entry's bytes)."""
    attachments = [
        {"name": a["name"], "sha256": a["sha256"], "size": a["size"]} for a in item["attachments"]
    ]
    enc = _CANONICAL.encode
    return (
        f'{{"attachments":{enc(attachments)},"kind":{enc(item["kind"])},"payload":{payload},'
        f'"schema_version":{enc(item["schema_version"])},"stream":{enc(item["stream"])}}}'
    )


def _stored_text(item: dict[str, Any], payload: str) -> str:
    """The entry as received, for the record: its other fields, then the payload text."""
    rest = _canonical_text({k: v for k, v in item.items() if k != "payload"})
    return f'{rest[:-1]},"payload":{payload}}}'


def _stored_response(key: str, seq: int, status: int, response: str) -> dict[str, Any]:
    """The answer stored for a key; empty for an ingested transaction, whose answer is
    derived from its sequence number."""
    if response:
        return dict(json.loads(response))
    return {"key": key, "status": int(status), "ref": f"T{seq:010d}"}


def _permit_access(id_number: str, permit_no: str, expiry: str) -> dict[str, str]:
    """Document number, birth and expiry dates as the chip's MRZ holds them (YYMMDD)."""
    return {
        "document_number": permit_no,
        "birth_date": id_number[8:14],
        "expiry_date": expiry[2:4] + expiry[5:7] + expiry[8:10],
    }


def _receipt_code(photo_number: str) -> str:
    digest = hashlib.sha256(photo_number.encode()).digest()
    return base64.b32encode(digest)[:10].decode()


class _Tx:
    """Lock + BEGIN IMMEDIATE/COMMIT (ROLLBACK on error)."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()
