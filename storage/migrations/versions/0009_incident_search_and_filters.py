"""incident search and filters

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The list's filters, each with the default order (newest first), overdue (status, deadline), the order by last
# change; they replace single-column indexes that are now their prefixes.
INDEXES = {
    "ix_incident_status_received": ["status", "received_at"],
    "ix_incident_sector_received": ["sector_code", "received_at"],
    "ix_incident_assignee_received": ["assignee_id", "received_at"],
    "ix_incident_source_received": ["source_id", "received_at"],
    "ix_incident_settlement_received": ["settlement", "received_at"],
    "ix_incident_status_due": ["status", "due_at"],
    "ix_incident_updated_at": ["updated_at"],
}
REPLACED = {
    "ix_incident_status": ["status"],
    "ix_incident_sector_code": ["sector_code"],
    "ix_incident_assignee_id": ["assignee_id"],
}
BATCH = 2000


def _searchable(text: str) -> str:
    # A copy of storage.models.searchable as it was at this revision: a migration must not change with the code.
    return " ".join(text.lower().replace("ё", "е").split())


def upgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search", sa.Text(), nullable=False, server_default=""))

    # SQLite's lower() leaves Cyrillic as it is, so the existing texts are folded here, a batch at a time.
    bind = op.get_bind()
    incident = sa.table("incident", sa.column("id", sa.Integer), sa.column("text", sa.Text), sa.column("search"))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(incident.c.id, incident.c.text).where(incident.c.id > last).order_by(incident.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        bind.execute(
            incident.update().where(incident.c.id == sa.bindparam("row_id")).values(search=sa.bindparam("folded")),
            [{"row_id": row.id, "folded": _searchable(row.text or "")} for row in rows],
        )
        last = rows[-1].id

    with op.batch_alter_table("incident", schema=None) as batch_op:
        for name in REPLACED:
            batch_op.drop_index(name)
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("incident", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        for name, columns in REPLACED.items():
            batch_op.create_index(name, columns, unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops the column in place; batch mode would copy the table, which other tables'
        # foreign keys forbid while they hold rows.
        op.execute("ALTER TABLE incident DROP COLUMN search")
    else:
        op.drop_column("incident", "search")
