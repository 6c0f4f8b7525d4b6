"""Initial registry schema: estate ledger, tasks with history, alerts, valve commands.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ACTIVE_TASK_SQL = "state IN ('open', 'acknowledged', 'assigned', 'in_progress')"


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=64), nullable=nullable)


def _ms(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sites",
        _id("id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        _ms("created_ms"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    op.create_table(
        "zones",
        _id("site"),
        _id("id"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("refill_vwc_pct", sa.Float(), nullable=False),
        sa.Column("saturation_vwc_pct", sa.Float(), nullable=False),
        sa.Column("waterlog_hours", sa.Float(), nullable=False),
        _id("valve_device", nullable=True),
        sa.Column("max_run_s", sa.Integer(), nullable=False),
        sa.Column("min_interval_s", sa.Integer(), nullable=False),
        sa.Column("daily_max_s", sa.Integer(), nullable=False),
        sa.Column("rain_forecast_mm", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name=op.f("fk_zones_site_sites")),
        sa.PrimaryKeyConstraint("site", "id", name=op.f("pk_zones")),
    )
    op.create_table(
        "trees",
        _id("site"),
        _id("id"),
        sa.Column("species", sa.String(length=200), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("dbh_cm", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("heritage", sa.Boolean(), nullable=False),
        sa.Column("heritage_name", sa.String(length=200), nullable=True),
        sa.Column("planted_year", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        _ms("created_ms"),
        _ms("updated_ms"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name=op.f("fk_trees_site_sites")),
        sa.PrimaryKeyConstraint("site", "id", name=op.f("pk_trees")),
    )
    op.create_table(
        "devices",
        _id("site"),
        _id("id"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _id("tree_id", nullable=True),
        _id("zone_id", nullable=True),
        sa.Column("fw", sa.String(length=32), nullable=True),
        _ms("last_seen_ms", nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bat_v", sa.Float(), nullable=True),
        _ms("created_ms"),
        sa.ForeignKeyConstraint(["site", "tree_id"], ["trees.site", "trees.id"],
                                name="fk_devices_tree"),
        sa.ForeignKeyConstraint(["site", "zone_id"], ["zones.site", "zones.id"],
                                name="fk_devices_zone"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name=op.f("fk_devices_site_sites")),
        sa.PrimaryKeyConstraint("site", "id", name=op.f("pk_devices")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _id("site"),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("heritage", sa.Boolean(), nullable=False),
        _id("tree", nullable=True),
        _id("zone", nullable=True),
        _id("device", nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=120), nullable=True),
        sa.Column("assignee", sa.String(length=120), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _ms("created_ms"),
        _ms("ack_ms", nullable=True),
        _ms("assigned_ms", nullable=True),
        _ms("started_ms", nullable=True),
        _ms("closed_ms", nullable=True),
        _ms("due_ms", nullable=True),
        _ms("updated_ms"),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        sa.Column("source_event", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index("ix_tasks_site_state", "tasks", ["site", "state"])
    op.create_index("uq_tasks_active_dedup_key", "tasks", ["dedup_key"], unique=True,
                    sqlite_where=sa.text(ACTIVE_TASK_SQL),
                    postgresql_where=sa.text(ACTIVE_TASK_SQL))
    op.create_table(
        "task_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        _ms("ts_ms"),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_task_history_task_id_tasks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_history")),
    )
    op.create_index(op.f("ix_task_history_task_id"), "task_history", ["task_id"])
    op.create_table(
        "alerts",
        _id("id"),
        _id("site"),
        _ms("ts_ms"),
        _ms("last_ts_ms"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        _id("device", nullable=True),
        _id("tree", nullable=True),
        _id("zone", nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("ack_by", sa.String(length=120), nullable=True),
        _ms("ack_ms", nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=True),
        _ms("created_ms"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], name=op.f("fk_alerts_task_id_tasks"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index("ix_alerts_site_ts_ms", "alerts", ["site", "ts_ms"])
    op.create_index("uq_alerts_open_dedup_key", "alerts", ["dedup_key"], unique=True,
                    sqlite_where=sa.text("NOT acknowledged"),
                    postgresql_where=sa.text("NOT acknowledged"))
    op.create_table(
        "commands",
        _id("id"),
        _id("site"),
        _id("device"),
        _id("zone", nullable=True),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("max_run_s", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        _ms("created_ms"),
        _ms("deadline_ms"),
        sa.Column("state", sa.String(length=16), nullable=False),
        _ms("sent_ms", nullable=True),
        _ms("ack_ms", nullable=True),
        sa.Column("ack_reason", sa.Text(), nullable=True),
        sa.Column("valve_state", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_commands_task_id_tasks"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_index("ix_commands_site_device", "commands", ["site", "device"])
    op.create_index("ix_commands_state", "commands", ["state"])


def downgrade() -> None:
    for table in ("commands", "alerts", "task_history", "tasks", "devices", "trees", "zones",
                  "sites"):
        op.drop_table(table)
