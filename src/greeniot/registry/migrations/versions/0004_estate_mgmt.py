"""Estate management: tree crowns and retirement, site time zone, task contractor,
complaints, maintenance calendar, work records.

Revision ID: 0004_estate_mgmt
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_estate_mgmt"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _ms(name: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("tz", sa.String(length=64), nullable=False,
                                   server_default="UTC"))
    with op.batch_alter_table("trees") as batch:
        batch.add_column(sa.Column("crown_radius_m", sa.Float(), nullable=True))
        batch.add_column(sa.Column("crown_base_m", sa.Float(), nullable=True))
        batch.add_column(sa.Column("crown_shape", sa.String(length=16), nullable=True))
        batch.add_column(_ms("retired_ms", nullable=True))
        batch.add_column(sa.Column("retired_reason", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("retired_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("successor_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("predecessor_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("contractor", sa.String(length=200), nullable=True))
    op.create_table(
        "complaints",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("tree", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("location_key", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reporter_name", sa.String(length=120), nullable=True),
        sa.Column("reporter_phone", sa.String(length=40), nullable=True),
        _ms("received_ms"),
        _ms("reply_due_ms"),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("joined", sa.Boolean(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        _ms("reply_ms", nullable=True),
        sa.Column("replied_by", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_complaints_task_id_tasks"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("ticket", name=op.f("uq_complaints_ticket")),
    )
    op.create_index("ix_complaints_site_received_ms", "complaints", ["site", "received_ms"])
    op.create_table(
        "calendar_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("work", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("start_md", sa.String(length=5), nullable=False),
        sa.Column("end_md", sa.String(length=5), nullable=False),
        sa.Column("every_days", sa.Integer(), nullable=True),
        sa.Column("hour_local", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=True),
        sa.Column("tree", sa.String(length=64), nullable=True),
        sa.Column("contractor", sa.String(length=200), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _ms("created_ms"),
        sa.ForeignKeyConstraint(["site"], ["sites.id"],
                                name=op.f("fk_calendar_rules_site_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_rules")),
    )
    op.create_table(
        "calendar_occurrences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.String(length=10), nullable=False),
        _ms("due_at_ms"),
        sa.Column("task_id", sa.Integer(), nullable=True),
        _ms("created_ms"),
        sa.ForeignKeyConstraint(["rule_id"], ["calendar_rules.id"],
                                name=op.f("fk_calendar_occurrences_rule_id_calendar_rules"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_calendar_occurrences_task_id_tasks"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_occurrences")),
        sa.UniqueConstraint("rule_id", "local_date", name="uq_calendar_occurrences_rule_date"),
    )
    op.create_table(
        "work_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        _ms("ts_ms"),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["tasks.id"],
                                name=op.f("fk_work_records_task_id_tasks"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_records")),
    )
    op.create_index(op.f("ix_work_records_task_id"), "work_records", ["task_id"])


def downgrade() -> None:
    for table in ("work_records", "calendar_occurrences", "calendar_rules", "complaints"):
        op.drop_table(table)
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("contractor")
    with op.batch_alter_table("trees") as batch:
        for name in ("predecessor_id", "successor_id", "retired_note", "retired_reason",
                     "retired_ms", "crown_shape", "crown_base_m", "crown_radius_m"):
            batch.drop_column(name)
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("tz")
