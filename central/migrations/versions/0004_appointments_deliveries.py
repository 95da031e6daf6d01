"""Appointments checked in at the kiosks (the e网通 green channel), addresses on record and
free EMS delivery orders for finished documents.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("appointment_no", sa.Text, primary_key=True),
        sa.Column("id_number", sa.Text),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("counter", sa.Text, nullable=False),
        sa.Column("slot_at", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("checked_in_at", sa.Float),
        sa.Column("kiosk_id", sa.Text),
        sa.Column("ticket_no", sa.Text),
        sa.Column("ticket_seq", sa.Integer),
        sa.Column("served_at", sa.Float),
    )
    op.create_index("appointments_counter_day", "appointments", ["counter", "slot_at"])
    op.create_table(
        "addresses",
        sa.Column("id_number", sa.Text, primary_key=True),
        sa.Column("address", sa.Text, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("order_no", sa.Text, primary_key=True),
        sa.Column("document_no", sa.Text, nullable=False),
        sa.Column("id_number", sa.Text),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("ordered_at", sa.Text, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.UniqueConstraint("document_no", name="deliveries_document"),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("addresses")
    op.drop_index("appointments_counter_day", table_name="appointments")
    op.drop_table("appointments")
