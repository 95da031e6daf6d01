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
    # The applicant's photo (JPEG) from the application, for the pickup machine's face
    # check; erased with the other personal data once the document is long handed over.
    Column("applicant_photo", LargeBinary),
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

# ---------------------------------------------------------------- the fleet console
# Staff accounts of the fleet console (central/console): an argon2 hash, a role, and the
# count of failed sign-ins in a row that locks the account for a growing time.
console_users = Table(
    "console_users",
    metadata,
    Column("username", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", Float, nullable=False),
    Column("disabled", Integer, nullable=False),
)

# Signed-in sessions: only the SHA-256 of the cookie's token is kept, so a copy of the
# table signs nobody in; ``csrf`` is the token every changing request must carry.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("username", Text, nullable=False),
    Column("csrf", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("seen_at", Float, nullable=False),
    Index("console_sessions_username", "username"),
)

# Who did what, when, and how it ended: sign-ins, acknowledgements, remote actions (their
# ``result`` filled in when the kiosk reports it), settings.
console_audit = Table(
    "console_audit",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("username", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("kiosk_id", Text),
    Column("detail", Text, nullable=False),
    Column("result", Text, nullable=False),
    Column("command_id", Text),
    Index("console_audit_at", "at"),
    Index("console_audit_command", "command_id"),
)

# Remote actions for a kiosk, handed out in its heartbeats' answers until it reports the
# outcome (``pending`` -> ``sent`` -> ``done`` | ``failed``; ``expired`` if never picked up).
kiosk_commands = Table(
    "kiosk_commands",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kiosk_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("requested_at", Float, nullable=False),
    Column("state", Text, nullable=False),
    Column("sent_at", Float),
    Column("done_at", Float),
    Column("result", Text, nullable=False),
    Index("kiosk_commands_kiosk_state", "kiosk_id", "state"),
)

# A staff alert acknowledged on the console (one row per alert, ``alerts.id``).
alert_acks = Table(
    "alert_acks",
    metadata,
    Column("alert_row", BigInteger, primary_key=True),
    Column("acked_by", Text, nullable=False),
    Column("acked_at", Float, nullable=False),
    Column("note", Text, nullable=False),
)

# Each kiosk's usage counters over time (from its heartbeats, at most one row a minute):
# the history the consumables forecast is made from.
usage_samples = Table(
    "usage_samples",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("counters", Text, nullable=False),
    Index("usage_samples_kiosk_at", "kiosk_id", "at"),
)

# A consumable replenished (paper roll changed, capture bin emptied): the counter's value
# then, so that what is left is the capacity less what was used since.
consumable_marks = Table(
    "consumable_marks",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("kiosk_id", Text, nullable=False),
    Column("consumable", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("counter", BigInteger, nullable=False),
    Column("marked_by", Text, nullable=False),
    Index("consumable_marks_kiosk", "kiosk_id", "consumable", "at"),
)

# Console settings an admin changes (the forecast's warning lead time).
console_settings = Table(
    "console_settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# The e网通 green channel (central.appointments): appointments booked online, checked in at
# any kiosk for a priority ticket. ``ticket_seq`` orders a day's tickets at one counter;
# ``served_at`` is set by the counter's calling system (how many are still ahead).
appointments = Table(
    "appointments",
    metadata,
    Column("appointment_no", Text, primary_key=True),
    Column("id_number", Text),
    Column("service", Text, nullable=False),
    Column("counter", Text, nullable=False),
    Column("slot_at", Text, nullable=False),  # local time, YYYY-MM-DDTHH:MM
    Column("created_at", Float, nullable=False),
    Column("checked_in_at", Float),
    Column("kiosk_id", Text),
    Column("ticket_no", Text),
    Column("ticket_seq", Integer),
    Column("served_at", Float),
    Index("appointments_counter_day", "counter", "slot_at"),
)

# The postal address on record for a citizen (the national system's), offered for free
# EMS delivery of a finished document.
addresses = Table(
    "addresses",
    metadata,
    Column("id_number", Text, primary_key=True),
    Column("address", Text, nullable=False),
)

# Free EMS delivery instead of pickup: one order per document, recorded from the kiosk's
# ``pickup.delivery`` entry (so exactly once, whatever the retries).
deliveries = Table(
    "deliveries",
    metadata,
    Column("order_no", Text, primary_key=True),
    Column("document_no", Text, nullable=False),
    Column("id_number", Text),
    Column("kiosk_id", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("ordered_at", Text, nullable=False),
    Column("received_at", Float, nullable=False),
    UniqueConstraint("document_no", name="deliveries_document"),
)
