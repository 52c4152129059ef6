"""not-incident reasons, problems grouping reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("sector_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("settlement", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sector_code"], ["sector.code"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_incident_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("problem_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_incident_problem_id", ["problem_id"], unique=False)
        batch_op.create_foreign_key("fk_incident_problem_id", "problem", ["problem_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incident_problem_id", type_="foreignkey")
        batch_op.drop_index("ix_incident_problem_id")
        batch_op.drop_column("problem_id")
        batch_op.drop_column("not_incident_reason")
    op.drop_table("problem")
