"""Alarm and task lifecycle, responsibility chain, alert routes and deliveries.

- alerts: ``state`` (active → acknowledged → cleared) with who/when/why of the clear; the
  dedup key is unique among live (not cleared) alarms instead of unacknowledged ones;
- tasks: ``work_key`` (one active task per subject and family of work), ``responsible``
  person along the chain, escalation level and time;
- new tables ``alert_history``, ``roster``, ``alert_routes``, ``deliveries``.

Revision ID: 0003_lifecycle
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_lifecycle"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

ACTIVE_TASK_SQL = "state IN ('open', 'acknowledged', 'assigned', 'in_progress')"
LIVE_ALARM_SQL = "state IN ('active', 'acknowledged')"


def upgrade() -> None:
    op.add_column("alerts", sa.Column("state", sa.String(16), nullable=False,
                                      server_default="active"))
    op.add_column("alerts", sa.Column("cleared_ms", sa.BigInteger(), nullable=True))
    op.add_column("alerts", sa.Column("cleared_by", sa.String(120), nullable=True))
    op.add_column("alerts", sa.Column("clear_note", sa.Text(), nullable=True))
    op.execute("UPDATE alerts SET state = 'acknowledged' WHERE acknowledged")
    op.drop_index("uq_alerts_open_dedup_key", table_name="alerts")
    op.create_index("uq_alerts_live_dedup_key", "alerts", ["dedup_key"], unique=True,
                    sqlite_where=sa.text(LIVE_ALARM_SQL),
                    postgresql_where=sa.text(LIVE_ALARM_SQL))

    op.add_column("tasks", sa.Column("work_key", sa.String(200), nullable=True))
    op.add_column("tasks", sa.Column("responsible", sa.String(120), nullable=True))
    op.add_column("tasks", sa.Column("escalation_level", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("tasks", sa.Column("escalated_ms", sa.BigInteger(), nullable=True))
    op.create_index("uq_tasks_active_work_key", "tasks", ["work_key"], unique=True,
                    sqlite_where=sa.text(ACTIVE_TASK_SQL),
                    postgresql_where=sa.text(ACTIVE_TASK_SQL))

    op.create_table(
        "alert_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(120), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE",
                                name=op.f("fk_alert_history_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
    )
    op.create_index(op.f("ix_alert_history_alert_id"), "alert_history", ["alert_id"])

    op.create_table(
        "roster",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site"], ["sites.id"], name=op.f("fk_roster_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster")),
        sa.UniqueConstraint("site", "name", name="uq_roster_site_name"),
    )

    op.create_table(
        "alert_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("site", sa.String(64), nullable=True),
        sa.Column("min_severity", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("rate_max", sa.Integer(), nullable=True),
        sa.Column("rate_window_s", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_routes")),
        sa.UniqueConstraint("name", name=op.f("uq_alert_routes_name")),
    )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("alert_id", sa.String(64), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("log", sa.JSON(), nullable=False),
        sa.Column("in_digest", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE",
                                name=op.f("fk_deliveries_alert_id_alerts")),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE",
                                name=op.f("fk_deliveries_task_id_tasks")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("ref", "recipient", name="uq_deliveries_ref_recipient"),
    )
    op.create_index("ix_deliveries_state", "deliveries", ["state"])
    op.create_index(op.f("ix_deliveries_alert_id"), "deliveries", ["alert_id"])
    op.create_index(op.f("ix_deliveries_task_id"), "deliveries", ["task_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("alert_routes")
    op.drop_table("roster")
    op.drop_table("alert_history")
    op.drop_index("uq_tasks_active_work_key", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        for name in ("escalated_ms", "escalation_level", "responsible", "work_key"):
            batch.drop_column(name)
    op.drop_index("uq_alerts_live_dedup_key", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        for name in ("clear_note", "cleared_by", "cleared_ms", "state"):
            batch.drop_column(name)
    op.create_index("uq_alerts_open_dedup_key", "alerts", ["dedup_key"], unique=True,
                    sqlite_where=sa.text("NOT acknowledged"),
                    postgresql_where=sa.text("NOT acknowledged"))
