"""The central store's first migrated schema; adopts a store from before migrations.

Stores made by the stdlib server (one SQLite file, tables created on open) are converted in
place: their tables are renamed aside, the new ones created, the rows copied, the old ones
dropped. What changed: idempotency keys are unique per kiosk (they were global), counters
are sharded, upload bytes live in the database (they were files beside it), alerts have a
row number, documents name the machine holding them.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DEMO_PICKUP_KIOSK = "SZ-FT-K01"  # where a store from before documents.kiosk_id kept them

TABLES = (
    "transactions",
    "uploads",
    "upload_chunks",
    "heartbeats",
    "alerts",
    "citizens",
    "endorsements",
    "documents",
    "photos",
    "payments",
    "counters",
    "sequences",
)


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    legacy = [t for t in TABLES if t in existing]
    for name in legacy:
        op.rename_table(name, f"legacy_{name}")
    _create()
    for name in legacy:
        _adopt(bind, name)
        op.drop_table(f"legacy_{name}")


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)


def _create() -> None:
    op.create_table(
        "transactions",
        sa.Column("seq", Serial, primary_key=True, autoincrement=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("payload", sa.Text),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kiosk_id", "key", name="transactions_kiosk_key"),
    )
    op.create_index("transactions_received_at", "transactions", ["received_at"])
    op.create_table(
        "uploads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("completed_at", sa.Float),
    )
    op.create_index("uploads_created_at", "uploads", ["created_at"])
    op.create_table(
        "upload_chunks",
        sa.Column("upload_id", sa.Text, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("upload_id", "offset", name="upload_chunks_pk"),
    )
    op.create_table(
        "heartbeats",
        sa.Column("kiosk_id", sa.Text, primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("alert_id", sa.Text, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_at", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.UniqueConstraint("kiosk_id", "alert_id", name="alerts_kiosk_alert"),
    )
    op.create_table(
        "citizens",
        sa.Column("id_number", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("permit_no", sa.Text, nullable=False),
        sa.Column("permit_expiry", sa.Text, nullable=False),
        sa.Column("first_application", sa.Integer, nullable=False),
        sa.Column("registered_personnel", sa.Integer, nullable=False),
        sa.Column("endorsement_until", sa.Text),
        sa.Column("permit_used", sa.Integer, nullable=False),
    )
    op.create_table(
        "endorsements",
        sa.Column("endorsement_no", sa.Text, primary_key=True),
        sa.Column("id_number", sa.Text, nullable=False),
        sa.Column("option", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("fee_cny", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.Text, nullable=False),
        sa.Column("valid_until", sa.Text, nullable=False),
    )
    op.create_index("endorsements_id_number", "endorsements", ["id_number"])
    op.create_table(
        "documents",
        sa.Column("document_no", sa.Text, primary_key=True),
        sa.Column("id_number", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("slot", sa.Text, nullable=False),
        sa.Column("ready_since", sa.Text, nullable=False),
        sa.Column("handed_over_at", sa.Float),
        sa.Column("kiosk_id", sa.Text),
    )
    op.create_index("documents_id_number", "documents", ["id_number"])
    op.create_table(
        "photos",
        sa.Column("photo_number", sa.Text, primary_key=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("id_number", sa.Text),
        sa.Column("receipt_code", sa.Text, nullable=False),
        sa.Column("registered_at", sa.Text, nullable=False),
    )
    op.create_table(
        "payments",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("id_number", sa.Text, nullable=False),
        sa.Column("option", sa.Text, nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("amount_cny", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("paid_at", sa.Float),
        sa.Column("endorsement_no", sa.Text),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("shard", sa.Integer, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", "shard", name="counters_pk"),
    )
    op.create_table(
        "sequences",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def _adopt(bind: sa.Connection, name: str) -> None:
    """Copy the rows of ``legacy_<name>`` into ``name``, column by common column."""
    old = {c["name"] for c in sa.inspect(bind).get_columns(f"legacy_{name}")}
    new = [c["name"] for c in sa.inspect(bind).get_columns(name)]
    if name == "counters":
        bind.exec_driver_sql(
            "INSERT INTO counters (name, shard, value) SELECT name, 0, value FROM legacy_counters"
        )
        # Endorsement numbers went on from the 'endorsements' counter.
        bind.exec_driver_sql(
            "INSERT INTO sequences (name, value) SELECT name, value FROM legacy_counters "
            "WHERE name = 'endorsements'"
        )
        return
    common = [c for c in new if c in old and not (name == "alerts" and c == "id")]
    columns = ", ".join(f'"{c}"' for c in common)
    bind.exec_driver_sql(
        f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "legacy_{name}"'
        + (" ORDER BY rowid" if name == "alerts" else "")
    )
    if name == "documents" and "kiosk_id" not in old:
        # Before documents.kiosk_id every document was seeded into the demo pickup machine.
        bind.execute(sa.text("UPDATE documents SET kiosk_id = :k"), {"k": DEMO_PICKUP_KIOSK})
