"""The fleet console: staff accounts and sessions, the audit, remote commands, alert
acknowledgements, usage history and consumable marks, settings.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("username", sa.Text, primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("lockouts", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.Float, nullable=False),
        sa.Column("disabled", sa.Integer, nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("seen_at", sa.Float, nullable=False),
    )
    op.create_index("console_sessions_username", "console_sessions", ["username"])
    op.create_table(
        "console_audit",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("username", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("kiosk_id", sa.Text),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("command_id", sa.Text),
    )
    op.create_index("console_audit_at", "console_audit", ["at"])
    op.create_index("console_audit_command", "console_audit", ["command_id"])
    op.create_table(
        "kiosk_commands",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Float),
        sa.Column("done_at", sa.Float),
        sa.Column("result", sa.Text, nullable=False),
    )
    op.create_index("kiosk_commands_kiosk_state", "kiosk_commands", ["kiosk_id", "state"])
    op.create_table(
        "alert_acks",
        sa.Column("alert_row", sa.BigInteger, primary_key=True),
        sa.Column("acked_by", sa.Text, nullable=False),
        sa.Column("acked_at", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_table(
        "usage_samples",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("counters", sa.Text, nullable=False),
    )
    op.create_index("usage_samples_kiosk_at", "usage_samples", ["kiosk_id", "at"])
    op.create_table(
        "consumable_marks",
        sa.Column("id", Serial, primary_key=True, autoincrement=True),
        sa.Column("kiosk_id", sa.Text, nullable=False),
        sa.Column("consumable", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("counter", sa.BigInteger, nullable=False),
        sa.Column("marked_by", sa.Text, nullable=False),
    )
    op.create_index("consumable_marks_kiosk", "consumable_marks", ["kiosk_id", "consumable", "at"])
    op.create_table(
        "console_settings",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "console_settings",
        "consumable_marks",
        "usage_samples",
        "alert_acks",
        "kiosk_commands",
        "console_audit",
        "console_sessions",
        "console_users",
    ):
        op.drop_table(name)
