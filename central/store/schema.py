"""The central store's tables (SQLAlchemy Core), one definition for SQLite and PostgreSQL.

The migrations in ``central/migrations`` create exactly these; a test compares the two.
Idempotency is the database's job: ``transactions`` is unique per (kiosk, key), so two
gateway instances that receive the same batch cannot both store it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite numbers rows only with INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Serial = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

# One row per (kiosk, idempotency key): kiosk entries (``kind`` their kind) and the
# idempotent calls (payment orders, endorsements). ``payload`` (personal data) is erased by
# the retention run while ``fingerprint`` stays, so a late replay is still recognised.
transactions = Table(
    "transactions",
    metadata,
    Column("seq", Serial, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("stream", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("payload", Text),
    Column("received_at", Float, nullable=False),
    UniqueConstraint("kiosk_id", "key", name="transactions_kiosk_key"),
    Index("transactions_received_at", "received_at"),
)

# tus uploads; their bytes are in ``upload_chunks``, so every instance can continue any
# upload (the instances keep no files of their own).
uploads = Table(
    "uploads",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kiosk_id", Text, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("completed_at", Float),
    Index("uploads_created_at", "created_at"),
)

upload_chunks = Table(
    "upload_chunks",
    metadata,
    Column("upload_id", Text, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("upload_id", "offset", name="upload_chunks_pk"),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("kiosk_id", Text, primary_key=True),
    Column("at", Float, nullable=False),
    Column("status", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
)

# Staff alerts kiosks report with their heartbeats; one row per (kiosk, alert id), so a
# heartbeat resent after a lost answer stores nothing twice.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, nullable=False),
    Column("alert_id", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("raised_at", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    UniqueConstraint("kiosk_id", "alert_id", name="alerts_kiosk_alert"),
)

citizens = Table(
    "citizens",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("permit_no", Text, nullable=False),
    Column("permit_expiry", Text, nullable=False),
    Column("first_application", Integer, nullable=False),
    Column("registered_personnel", Integer, nullable=False),
    Column("endorsement_until", Text),
    Column("permit_used", Integer, nullable=False),
)

endorsements = Table(
    "endorsements",
    metadata,
    Column("endorsement_no", Text, primary_key=True),
    Column("id_number", Text, nullable=False),
    Column("option", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("fee_cny", Integer, nullable=False),
    Column("valid_from", Text, nullable=False),
    Column("valid_until", Text, nullable=False),
    Index("endorsements_id_number", "id_number"),
)

# kiosk_id: the pickup machine the document was loaded into (NULL: kept at the service
# counter). A machine offers only what it holds; the citizen is told where the rest is.
documents = Table(
    "documents",
    metadata,
    Column("document_no", Text, primary_key=True),
    Column("id_number", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("slot", Text, nullable=False),
    Column("ready_since", Text, nullable=False),
    Column("handed_over_at", Float),
    Column("kiosk_id", Text),
    Index("documents_id_number", "id_number"),
)

# id_number: the citizen the photo was taken for (``id_binding.id_number`` of the kiosk's
# ``photo.captured``), the link the counter looks photos up by.
photos = Table(
    "photos",
    metadata,
    Column("photo_number", Text, primary_key=True),
    Column("kiosk_id", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("id_number", Text),
    Column("receipt_code", Text, nullable=False),
    Column("registered_at", Text, nullable=False),
)

# Payment orders for the endorsement fee: the gateway stands in for the non-tax revenue
# payment platform. One order pays for one endorsement (endorsement_no once used).
payments = Table(
    "payments",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("kiosk_id", Text, nullable=False),
    Column("id_number", Text, nullable=False),
    Column("option", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("amount_cny", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("paid_at", Float),
    Column("endorsement_no", Text),
)

# Endorsements written onto permit chips (central/store/chips.py): the chip slot an order's
# record was authorised for, when the record bytes were made (``issued_at``, UTC ISO: the
# same bytes on every re-authorisation), and whether the kiosk confirmed the write or
# withdrew it. No personal data: the citizen is the order's.
chip_endorsements = Table(
    "chip_endorsements",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("endorsement_no", Text, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("issued_at", Text, nullable=False),
    Column("authorisations", Integer, nullable=False),
    Column("authorised_at", Float, nullable=False),
    Column("written_at", Float),
    Column("voided_at", Float),
    Index("chip_endorsements_endorsement_no", "endorsement_no"),
)

# Statistics counters, spread over shards: every batch and heartbeat adds to them, and one
# row per name would make all instances queue behind its row lock.
counters = Table(
    "counters",
    metadata,
    Column("name", Text, nullable=False),
    Column("shard", Integer, nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("name", "shard", name="counters_pk"),
)

# Numbers that must have no gaps or repeats (endorsement numbers): one locked row each.
sequences = Table(
    "sequences",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)
