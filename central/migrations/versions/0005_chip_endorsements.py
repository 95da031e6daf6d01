"""Endorsements written onto permit chips: the table behind the issuer authorisation.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chip_endorsements",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("endorsement_no", sa.Text, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("issued_at", sa.Text, nullable=False),
        sa.Column("authorisations", sa.Integer, nullable=False),
        sa.Column("authorised_at", sa.Float, nullable=False),
        sa.Column("written_at", sa.Float),
        sa.Column("voided_at", sa.Float),
    )
    op.create_index("chip_endorsements_endorsement_no", "chip_endorsements", ["endorsement_no"])


def downgrade() -> None:
    op.drop_index("chip_endorsements_endorsement_no", "chip_endorsements")
    op.drop_table("chip_endorsements")
