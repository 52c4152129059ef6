"""index only the reminders still to send

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("sent_at IS NULL AND cancelled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_due")
        batch_op.create_index(
            "ix_reminder_pending", ["due_at"], unique=False, sqlite_where=PENDING, postgresql_where=PENDING
        )


def downgrade() -> None:
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_pending")
        batch_op.create_index("ix_reminder_due", ["sent_at", "due_at"], unique=False)
