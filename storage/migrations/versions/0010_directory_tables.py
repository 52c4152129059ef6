"""directory tables: the settlements gazetteer, seeded for the Троснянский район

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _seed_rows() -> list[dict[str, Any]]:
    """The shipped gazetteer (storage/seed/settlements.json), read here so the migration needs no app code."""
    data = json.loads(resources.files("storage").joinpath("seed/settlements.json").read_text(encoding="utf-8"))
    return [
        {
            "name": str(item["name"]).strip(),
            "kind": str(item["kind"]).strip(),
            "rural_settlement": str(item["rural_settlement"]).strip(),
            "lat": float(item["lat"]),
            "lon": float(item["lon"]),
            "aliases": [str(a).strip() for a in item.get("aliases") or []],
            "active": True,
        }
        for item in data["settlements"]
    ]


def upgrade() -> None:
    table = op.create_table(
        "settlement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rural_settlement", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    # The table starts as the seed; from here on it is edited in the admin (a later seed change is not re-applied).
    op.bulk_insert(table, _seed_rows())


def downgrade() -> None:
    op.drop_table("settlement")
