"""Merge the crews (0010) and irrigation decisions (0011) heads.

Revision ID: 0012_merge_heads
Revises: 0010_crews, 0011_irrigation_decisions
"""

from __future__ import annotations

revision = "0012_merge_heads"
down_revision = ("0010_crews", "0011_irrigation_decisions")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: both heads touch different tables."""


def downgrade() -> None:
    """Nothing to change."""
