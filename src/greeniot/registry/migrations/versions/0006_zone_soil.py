"""Zone soil and water-balance fields, probe calibration, site position (issue 7).

Every new column is nullable or has a server default, so zones, devices and sites created
before this revision keep working (they get the documented defaults).

Revision ID: 0006_zone_soil
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_zone_soil"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

SITE_COLUMNS = (
    ("lat_deg", sa.Float(), None),
    ("elevation_m", sa.Float(), None),
    # the site's time zone comes with 0004_estate_mgmt (the calendar's local dates)
)
ZONE_COLUMNS = (
    ("irrigation_kind", sa.String(length=16), None),
    ("soil_texture", sa.String(length=24), None),
    ("theta_fc", sa.Float(), None),
    ("theta_wp", sa.Float(), None),
    ("root_depth_m", sa.Float(), "0.3"),
    ("kc", sa.Float(), "0.8"),
    ("kc_monthly", sa.JSON(), None),
    ("mad_p", sa.Float(), "0.5"),
    ("application_rate_mm_h", sa.Float(), None),
    ("efficiency", sa.Float(), "0.8"),
    ("area_m2", sa.Float(), None),
    ("soak_s", sa.Integer(), "1800"),
    ("water_budget_l_day", sa.Float(), None),
    ("target_dr_mm", sa.Float(), "0"),
)
DEVICE_COLUMNS = (
    ("calibration", sa.JSON(), None),
    ("probe_weight", sa.Float(), "1"),
    ("probe_faulty", sa.Boolean(), sa.false()),
)


def _add(table: str, columns: tuple[tuple[str, sa.types.TypeEngine[Any], object], ...]) -> None:
    with op.batch_alter_table(table) as batch:
        for name, type_, default in columns:
            batch.add_column(sa.Column(name, type_, nullable=default is None,
                                       server_default=default))  # type: ignore[arg-type]


def _drop(table: str, columns: tuple[tuple[str, sa.types.TypeEngine[Any], object], ...]) -> None:
    with op.batch_alter_table(table) as batch:
        for name, _, _ in reversed(columns):
            batch.drop_column(name)


def upgrade() -> None:
    _add("sites", SITE_COLUMNS)
    _add("zones", ZONE_COLUMNS)
    _add("devices", DEVICE_COLUMNS)


def downgrade() -> None:
    _drop("devices", DEVICE_COLUMNS)
    _drop("zones", ZONE_COLUMNS)
    _drop("sites", SITE_COLUMNS)
