"""Seasonal sway baselines: per tree sensor and foliage state (issue 9, item 4).

Revision ID: 0013_sway_seasons
Revises: 0012_merge_heads
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sway_seasons"
down_revision: str | None = "0012_merge_heads"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "sway_baselines",
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("freq_hz", sa.Float(), nullable=False),
        sa.Column("damping", sa.Float(), nullable=True),
        sa.Column("n_bursts", sa.Integer(), nullable=False),
        sa.Column("newest_ms", sa.BigInteger(), nullable=False),
        sa.Column("scatter", sa.Float(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site", "device", "state", name=op.f("pk_sway_baselines")),
    )


def downgrade() -> None:
    op.drop_table("sway_baselines")
