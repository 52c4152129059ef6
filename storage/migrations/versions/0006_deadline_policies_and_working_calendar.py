"""deadline policies, working calendar, pauses

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("working", sa.Boolean(), nullable=False),
        sa.Column("start", sa.Time(), nullable=True),
        sa.Column("end", sa.Time(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "deadline_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("track", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("sector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reaction_minutes", sa.Integer(), nullable=True),
        sa.Column("reaction_working", sa.Boolean(), nullable=False),
        sa.Column("answer_minutes", sa.Integer(), nullable=False),
        sa.Column("answer_working", sa.Boolean(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sector_code"],
            ["sector.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deadline_policy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deadline_policy_track"), ["track"], unique=False)

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("urgent", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(
            sa.Column("track", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="social")
        )
        batch_op.add_column(
            sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="reaction")
        )
        batch_op.add_column(sa.Column("reaction_due_at", storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_left", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_incident_due_at"), ["due_at"], unique=False)

    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.add_column(sa.Column("point", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))

    op.execute("UPDATE incident SET reaction_due_at = due_at")
    # Defaults from the practice of regional ЦУР: first reaction in 8 working hours, 4 for urgent incidents,
    # the final answer 7 working days after an interim one; 59-ФЗ appeals: 30 days from registration.
    policy = sa.table(
        "deadline_policy",
        sa.column("track", sa.String()),
        sa.column("reaction_minutes", sa.Integer()),
        sa.column("reaction_working", sa.Boolean()),
        sa.column("answer_minutes", sa.Integer()),
        sa.column("answer_working", sa.Boolean()),
        sa.column("note", sa.String()),
    )
    working_day = 8 * 60
    op.bulk_insert(
        policy,
        [
            {"track": "social", "reaction_minutes": working_day, "reaction_working": True,
             "answer_minutes": 7 * working_day, "answer_working": True, "note": "сообщения из соцсетей"},
            {"track": "urgent", "reaction_minutes": 4 * 60, "reaction_working": True,
             "answer_minutes": 7 * working_day, "answer_working": True, "note": "срочные"},
            {"track": "appeal", "reaction_minutes": None, "reaction_working": False,
             "answer_minutes": 30 * 24 * 60, "answer_working": False, "note": "обращения по 59-ФЗ"},
        ],
    )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_column("point")

    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_due_at"))
        batch_op.drop_column("paused_left")
        batch_op.drop_column("reaction_due_at")
        batch_op.drop_column("phase")
        batch_op.drop_column("track")
        batch_op.drop_column("urgent")

    with op.batch_alter_table("deadline_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deadline_policy_track"))

    op.drop_table("deadline_policy")
    op.drop_table("calendar_day")
