"""Shared fixtures: a real SQLite database per test, migrated once and copied, and a controllable clock."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.directory import seed_directory
from storage.db import SessionPool, create_engine, create_session_pool
from storage.migrate import upgrade


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database migrated to head and seeded with the directory, made once per run."""
    path = tmp_path_factory.mktemp("template") / "mcu.db"
    upgrade(sqlite_url(path))

    async def seed() -> None:
        engine = create_engine(sqlite_url(path))
        async with create_session_pool(engine)() as session:
            await seed_directory(session)
        await engine.dispose()

    asyncio.run(seed())
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "mcu.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(db_path))
    yield engine
    await engine.dispose()


@pytest.fixture
def session_pool(engine: AsyncEngine) -> SessionPool:
    return create_session_pool(engine)


@pytest.fixture
async def session(session_pool: SessionPool) -> AsyncIterator[AsyncSession]:
    async with session_pool() as session:
        yield session


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Iterator[Clock]:
    # Tuesday 2026-11-24, 10:00 in Moscow: an ordinary working morning.
    yield Clock(datetime(2026, 11, 24, 7, 0, tzinfo=UTC))


@pytest.fixture(autouse=True)
def shipped_classifier() -> Iterator[None]:
    """Every test starts from the shipped model: one that retrains (or swaps in a small one) affects no other."""
    from handlers import classifier

    before = classifier._current
    yield
    classifier._current = before
