"""Watering decisions: every daily decision of a water-balance zone with its inputs (issue 7).

Revision ID: 0011_irrigation_decisions
Revises: 0009_merge_heads
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011_irrigation_decisions"
down_revision: str | None = "0009_merge_heads"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "irrigation_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=24), nullable=False),
        sa.Column("water", sa.Boolean(), nullable=False),
        sa.Column("et0_mm", sa.Float(), nullable=False),
        sa.Column("etc_mm", sa.Float(), nullable=False),
        sa.Column("dr_mm", sa.Float(), nullable=False),
        sa.Column("raw_mm", sa.Float(), nullable=False),
        sa.Column("taw_mm", sa.Float(), nullable=False),
        sa.Column("rain_observed_mm", sa.Float(), nullable=False),
        sa.Column("rain_forecast_mm", sa.Float(), nullable=True),
        sa.Column("net_mm", sa.Float(), nullable=False),
        sa.Column("gross_mm", sa.Float(), nullable=False),
        sa.Column("run_s", sa.Integer(), nullable=False),
        sa.Column("cycles", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_irrigation_decisions")),
    )
    op.create_index("ix_irrigation_decisions_zone_ts", "irrigation_decisions",
                    ["site", "zone", "ts_ms"], unique=True)
    op.create_index(op.f("ix_irrigation_decisions_ts_ms"), "irrigation_decisions", ["ts_ms"])


def downgrade() -> None:
    op.drop_index(op.f("ix_irrigation_decisions_ts_ms"), table_name="irrigation_decisions")
    op.drop_index("ix_irrigation_decisions_zone_ts", table_name="irrigation_decisions")
    op.drop_table("irrigation_decisions")
