"""Migrations match the models; time columns come back aware and in UTC on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.migrate import alembic_config, upgrade
from storage.models import StaffInvite
from tests.conftest import sqlite_url


def test_migrations_build_the_models_schema(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh.db")
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    command.check(alembic_config(url))  # raises if the models and the migrations differ


async def test_times_round_trip_as_aware_utc(session: AsyncSession) -> None:
    moscow = timezone(timedelta(hours=3))
    session.add(StaffInvite(staff_id=1, token_hash="h", expires_at=datetime(2026, 1, 1, 12, 0, tzinfo=moscow)))
    await session.commit()
    session.expunge_all()
    stored = await session.get(StaffInvite, 1)
    assert stored is not None
    assert stored.expires_at == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
    assert stored.expires_at.tzinfo is not None


async def test_naive_times_are_refused(session: AsyncSession) -> None:
    session.add(StaffInvite(staff_id=1, token_hash="h", expires_at=datetime(2026, 1, 1, 12, 0)))  # noqa: DTZ001
    with pytest.raises(Exception, match="naive"):
        await session.commit()
