"""Join the feature branches' revisions into one head.

Revision ID: 0009_merge_heads
Revises: 0002_accounts, 0003_lifecycle, 0004_estate_mgmt, 0006_zone_soil
"""

from __future__ import annotations

revision = "0009_merge_heads"
down_revision = ("0002_accounts", "0003_lifecycle", "0004_estate_mgmt", "0006_zone_soil")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the branches' tables are independent."""


def downgrade() -> None:
    """Nothing to change."""
