"""The language and time zone a notification recipient reads (issue 12): alert routes and
roster people get an optional ``locale`` (``zh_Hans`` or ``en``) and IANA ``tz``.

Both are nullable: a route or person without them reads the delivery default language
(``GREENIOT_DELIVERY__LOCALE``) in the site's time zone; a roster person who has a user account
of the same name reads that account's language and zone.

Revision ID: 0010_crews
Revises: 0009_merge_heads
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_crews"
down_revision: str | None = "0009_merge_heads"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("alert_routes", "roster")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
            batch.add_column(sa.Column("tz", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tz")
            batch.drop_column("locale")
