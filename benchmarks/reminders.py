"""Reminders under load: N open incidents with their reminders, the scheduler's sweep run on a virtual clock.

Measures how late reminders and escalations fire relative to the sweep interval, how long one sweep takes,
and one catch-up sweep after a day of downtime (everything due over the day at once). SQLite, one process.

Run: .venv/bin/python -m benchmarks.reminders [COUNT] [--interval SECONDS] [--phase SHARE]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import deadlines
from handlers.directory import get_staff_chat, seed_directory, set_staff_chat
from handlers.incidents import ingest_message
from handlers.types import AuthorRef, CitizenMessage, SourceRef
from handlers.worktime import WorkCalendar, load_calendar
from schedules.jobs import sweep_reminders
from storage.db import SessionPool, create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Incident, IncidentEvent, Outbox, Phase, Reminder, Role, Sector, Source, Staff, Status

MSK = ZoneInfo("Europe/Moscow")
# A Wednesday morning, the start of the working day (and of the morning digest); Tuesday was a working day too.
START = datetime(2026, 11, 25, 9, 0, tzinfo=MSK).astimezone(UTC)
# Citizens wrote over the 24 hours before: Tuesday's working hours, the evening and the night.
SPREAD = timedelta(hours=24)
URGENT_SHARE = 0.1
INGESTED = 200  # this many go through the real intake; their reminders check the bulk-planned rest
STAFF_CHAT = -100500
TEXTS = [
    "Огромная яма на дороге у школы, машины бьют колёса",
    "Третий день нет света на улице Садовой",
    "Не вывозят мусор, контейнеры переполнены",
    "Когда починят водопровод? Нет воды с утра",
    "Автобус до Орла не пришёл по расписанию",
    "Во дворе упало дерево, перегородило проезд",
]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] if ordered else 0.0


@dataclass
class Sweep:
    at: datetime  # virtual time the sweep started
    seconds: float  # wall time it took
    due: int  # reminders due (unsent) when it started
    sent: int  # reminders and escalations it sent
    digests: int


@dataclass
class Counter:
    statements: int = 0
    wakeups: int = 0
    skipped: int = 0  # scheduler ticks that found the previous sweep still running


def count_statements(engine: AsyncEngine, counter: Counter) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        counter.statements += 1


async def link_staff(session: AsyncSession) -> None:
    await seed_directory(session)
    await set_staff_chat(session, staff=None, chat_id=STAFF_CHAT)
    for staff in await session.exec(select(Staff)):
        staff.telegram_id = 7000 + (staff.id or 0)
        session.add(staff)
    await session.commit()


async def ingest_some(pool: SessionPool, received: list[datetime]) -> None:
    """The first incidents through the real intake (routing, start_clock), written as the bot starts at START."""
    source = SourceRef(platform="telegram", kind="tg_direct", external_id="bot1")
    for n, at in enumerate(received):
        message = CitizenMessage(
            source=source,
            external_id=f"{n}:1",
            thread_id=str(n),
            chat_id=str(n),
            message_id="1",
            author=AuthorRef(platform="telegram", external_id=str(n), name=f"Житель {n}"),
            text=TEXTS[n % len(TEXTS)],
            sent_at=at,
        )
        async with pool() as session:
            await ingest_message(session, message=message, now=START)


def reaction_due(calendar: WorkCalendar, policy: Any, received: datetime) -> datetime:
    """As `deadlines.start_clock` sets it for a new incident (checked against the ingested ones)."""
    amount = timedelta(minutes=policy.reaction_minutes)
    return calendar.add_working_time(received, amount) if policy.reaction_working else received + amount


async def bulk_incidents(session: AsyncSession, received: list[datetime], rng: random.Random) -> float:
    """The rest as plain rows; their reminders planned by `deadlines.plan_reminders`. Returns the check time."""
    calendar = await load_calendar(session)
    points = await deadlines.get_points(session)
    source = (await session.exec(select(Source))).one()
    sectors = list(await session.exec(select(Sector).where(col(Sector.head_id).is_not(None))))
    policies = {}
    for urgent in (False, True):
        probe = Incident(
            source_id=source.id or 0,
            external_ref="",
            thread_ref="",
            chat_ref="",
            message_ref="",
            received_at=START,
            urgent=urgent,
        )
        policies[urgent] = await deadlines.find_policy(session, probe)

    # The bulk path must plan exactly what intake planned for the ingested incidents.
    began = time.perf_counter()
    ingested = list(await session.exec(select(Incident)))
    for incident in ingested:
        assert incident.id is not None
        expected = reaction_due(calendar, policies[incident.urgent], incident.received_at)
        assert incident.due_at == expected, (incident.id, incident.due_at, expected)
        planned = deadlines.plan_reminders(
            incident,
            start=incident.received_at,
            calendar=calendar,
            points=points,
            working=policies[incident.urgent].reaction_working,
            now=START,
        )
        stored = await session.exec(select(Reminder).where(Reminder.incident_id == incident.id))
        assert sorted((r.kind, r.point, r.due_at) for r in planned) == sorted(
            (r.kind, r.point, r.due_at) for r in stored
        ), incident.id
    checked = time.perf_counter() - began

    next_id = max((i.id or 0) for i in ingested) + 1
    incidents, reminders = [], []
    for n, at in enumerate(received):
        sector = sectors[n % len(sectors)]
        urgent = rng.random() < URGENT_SHARE
        policy = policies[urgent]
        due = reaction_due(calendar, policy, at)
        incident = Incident(
            id=next_id + n,
            source_id=source.id or 0,
            external_ref=f"bulk{n}:1",
            thread_ref=f"bulk{n}",
            chat_ref=f"bulk{n}",
            message_ref="1",
            text=TEXTS[n % len(TEXTS)],
            received_at=at,
            sector_code=sector.code,
            classified_by="rule",
            status=Status.ASSIGNED,
            assignee_id=sector.head_id,
            urgent=urgent,
            phase=Phase.REACTION,
            due_at=due,
            reaction_due_at=due,
            updated_at=START,
        )
        incidents.append(incident)
        reminders += deadlines.plan_reminders(
            incident, start=at, calendar=calendar, points=points, working=policy.reaction_working, now=START
        )
    session.add_all(incidents)
    await session.flush()
    session.add_all(reminders)
    await session.commit()
    return checked


async def expected_outbox(session: AsyncSession) -> tuple[int, int, int]:
    """Reminders, escalations, and the outbox rows they must make: one chat per reminder (the assignee, or the
    staff chat), the curator, the МЦУ head and the staff chat per escalation."""
    chiefs = {
        s.telegram_id
        for s in await session.exec(select(Staff).where(col(Staff.telegram_id).is_not(None)))
        if {Role.CURATOR, Role.MCU_HEAD} & set(s.roles)
    }
    chiefs.add(await get_staff_chat(session))
    kinds = dict((await session.exec(select(Reminder.kind, func.count()).group_by(col(Reminder.kind)))).all())
    reminders, escalations = kinds.get(deadlines.REMINDER, 0), kinds.get(deadlines.ESCALATION, 0)
    return reminders, escalations, reminders + escalations * len(chiefs)


async def verify(session: AsyncSession) -> tuple[int, int]:
    """Every reminder sent exactly once, with the outbox rows and timeline events it should have made."""
    unsent = (
        await session.exec(select(func.count()).select_from(Reminder).where(col(Reminder.sent_at).is_(None)))
    ).one()
    assert unsent == 0, f"{unsent} reminders never sent"
    cancelled = (
        await session.exec(select(func.count()).select_from(Reminder).where(col(Reminder.cancelled_at).is_not(None)))
    ).one()
    assert cancelled == 0, f"{cancelled} reminders of open incidents cancelled"
    reminders, escalations, rows_expected = await expected_outbox(session)
    kinds = ("reminder", "escalation")
    rows = (await session.exec(select(func.count()).select_from(Outbox).where(col(Outbox.kind).in_(kinds)))).one()
    assert rows == rows_expected, f"{rows} outbox rows, expected {rows_expected}"
    repeated = (
        select(Outbox.incident_id)
        .where(col(Outbox.kind).in_(kinds))
        .group_by(
            col(Outbox.incident_id), col(Outbox.kind), col(Outbox.chat_id), func.json_extract(Outbox.payload, "$.point")
        )
        .having(func.count() > 1)
        .subquery()
    )
    twice = (await session.exec(select(func.count()).select_from(repeated))).one()
    assert twice == 0, f"{twice} reminders reached the same chat twice"
    events = (
        await session.exec(
            select(func.count())
            .select_from(IncidentEvent)
            .where(col(IncidentEvent.kind).in_(("reminder_sent", "escalated")))
        )
    ).one()
    assert events == reminders + escalations, f"{events} timeline events for {reminders + escalations} reminders"
    return reminders + escalations, rows


def virtual_clock(at: datetime) -> Callable[[], datetime]:
    """The virtual time `at`, moving on with the wall time the sweep itself takes."""
    began = time.perf_counter()
    return lambda: at + timedelta(seconds=time.perf_counter() - began)


async def run_day(
    pool: SessionPool, counter: Counter, interval: float, due_times: list[datetime], first: datetime
) -> list[Sweep]:
    """APScheduler's job: every `interval` from `first`, never two at once, a tick missed while one runs skipped."""
    step = timedelta(seconds=interval)
    end = due_times[-1] + 10 * step  # a few idle ticks after the last due time: does the day's tail drain
    sweeps: list[Sweep] = []
    sent_before = 0

    def wakeup() -> None:
        counter.wakeups += 1

    at = first
    while at <= end:
        clock = virtual_clock(at)
        t0 = time.perf_counter()
        total = await sweep_reminders(pool, clock, wakeup)
        seconds = time.perf_counter() - t0
        async with pool() as session:
            sent_now = (
                await session.exec(select(func.count()).select_from(Reminder).where(col(Reminder.sent_at).is_not(None)))
            ).one()
        due = bisect_right(due_times, at) - sent_before
        sweeps.append(Sweep(at, seconds, due, sent_now - sent_before, total - (sent_now - sent_before)))
        sent_before = sent_now
        finished = at + timedelta(seconds=seconds)
        ticks = max(1, math.ceil((finished - first) / step) - (at - first) // step)
        counter.skipped += ticks - 1
        at += step * ticks
    return sweeps


async def lateness(session: AsyncSession, sweeps: list[Sweep]) -> tuple[list[float], list[float], list[float]]:
    """Per reminder: sent − due, split into waiting for the next sweep (its start − due) and the sweep's own
    work before this row's batch (sent − its start)."""
    starts = [s.at for s in sweeps]
    total, waiting, working = [], [], []
    for due, sent in await session.exec(select(Reminder.due_at, Reminder.sent_at)):
        assert sent is not None
        start = starts[bisect_right(starts, sent) - 1]
        total.append((sent - due).total_seconds())
        waiting.append((start - due).total_seconds())
        working.append((sent - start).total_seconds())
    return total, waiting, working


async def setup(url: str, count: int, rng: random.Random) -> tuple[float, float]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    pool = create_session_pool(engine)
    began = time.perf_counter()
    ingested = min(INGESTED, count)
    async with pool() as session:
        await link_staff(session)
    await ingest_some(pool, sorted(START - SPREAD * rng.random() for _ in range(ingested)))
    async with pool() as session:
        received = sorted(START - SPREAD * rng.random() for _ in range(count - ingested))
        checked = await bulk_incidents(session, received, rng)
    async with pool() as session:
        # Nothing the intake queued counts here: start the day with an empty outbox.
        await session.exec(delete(Outbox))
        await session.commit()
    await engine.dispose()
    return time.perf_counter() - began, checked


def copy_db(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


async def main(count: int, interval: float, phase: float) -> None:
    rng = random.Random(20261125)
    out = sys.stdout.write
    with tempfile.TemporaryDirectory() as folder:
        day_db, catchup_db = Path(folder) / "day.db", Path(folder) / "catchup.db"
        setup_seconds, checked = await setup(f"sqlite+aiosqlite:///{day_db}", count, rng)
        copy_db(day_db, catchup_db)

        # A working day of sweeps every `interval` seconds.
        engine = create_engine(f"sqlite+aiosqlite:///{day_db}")
        pool = create_session_pool(engine)
        day = Counter()
        count_statements(engine, day)
        async with pool() as session:
            due_times = sorted(await session.exec(select(Reminder.due_at)))
            incidents = (await session.exec(select(func.count()).select_from(Incident))).one()
        began = time.perf_counter()
        # The process started at some second before 9:00: its ticks are not aligned with round due times.
        first = START - timedelta(seconds=interval * phase)
        sweeps = await run_day(pool, day, interval, due_times, first)
        day_seconds = time.perf_counter() - began
        async with pool() as session:
            late, waiting, working = await lateness(session, sweeps)
            day_sent, day_rows = await verify(session)
        await engine.dispose()

        # A day of downtime: the process comes back on Thursday morning and finds everything due at once.
        engine = create_engine(f"sqlite+aiosqlite:///{catchup_db}")
        pool = create_session_pool(engine)
        catchup = Counter()
        count_statements(engine, catchup)
        back = START + timedelta(days=1)
        t0 = time.perf_counter()
        catchup_total = await sweep_reminders(pool, virtual_clock(back), lambda: None)
        catchup_seconds = time.perf_counter() - t0
        async with pool() as session:
            catchup_sent, catchup_rows = await verify(session)
        await engine.dispose()

    busy = [s for s in sweeps if s.sent]
    times = [s.seconds * 1000 for s in sweeps]
    busy_times = [s.seconds * 1000 for s in busy]
    heaviest = max(sweeps, key=lambda s: (s.sent, s.seconds))
    digest = next((s for s in sweeps if s.digests), None)
    local = START.astimezone(MSK)

    out(f"command: .venv/bin/python -m benchmarks.reminders {count} --interval {interval:g} --phase {phase:g}\n")
    out(
        f"machine: Python {platform.python_version()}, {os.cpu_count()} CPUs, {platform.machine()}, "
        f"SQLite {sqlite3.sqlite_version}\n"
    )
    out(
        f"data: {incidents} open incidents received over the {SPREAD.total_seconds() / 3600:g} h before "
        f"{local:%a %Y-%m-%d %H:%M} МСК ({URGENT_SHARE:.0%} urgent), {len(due_times)} reminders and escalations "
        f"due {due_times[0].astimezone(MSK):%H:%M}–{due_times[-1].astimezone(MSK):%H:%M}; "
        f"set up in {setup_seconds:.1f} s ({INGESTED} via ingest_message, the rest planned by plan_reminders; "
        f"checked equal in {checked:.1f} s)\n"
    )
    out(
        f"day: {len(sweeps)} sweeps every {interval:g} s from {sweeps[0].at.astimezone(MSK):%H:%M:%S} "
        f"({len(busy)} with work, {day.skipped} ticks skipped while "
        f"one ran) in {day_seconds:.1f} s wall, {day.statements} SQL statements, {day.wakeups} wakeups\n"
    )
    rows = [
        ("", "p50", "p99", "max"),
        ("sweep, all (ms)", *(f"{v:.1f}" for v in (pct(times, 50), pct(times, 99), max(times)))),
        ("sweep with work (ms)", *(f"{v:.1f}" for v in (pct(busy_times, 50), pct(busy_times, 99), max(busy_times)))),
        ("rows per sweep with work", *(str(v) for v in (int(pct([s.sent for s in busy], 50)),
                                                          int(pct([s.sent for s in busy], 99)), heaviest.sent))),
        ("lateness: sent − due (s)", *(f"{v:.1f}" for v in (pct(late, 50), pct(late, 99), max(late)))),
        ("  ÷ interval", *(f"{v / interval:.2f}" for v in (pct(late, 50), pct(late, 99), max(late)))),
        ("  waiting for the sweep (s)", *(f"{v:.1f}" for v in (pct(waiting, 50), pct(waiting, 99), max(waiting)))),
        ("  inside the sweep (s)", *(f"{v:.1f}" for v in (pct(working, 50), pct(working, 99), max(working)))),
    ]  # fmt: skip
    for name, *cells in rows:
        out(f"  {name:<28}" + "".join(f"{c:>10}" for c in cells) + "\n")
    out(
        f"heaviest sweep: {heaviest.sent} due rows at {heaviest.at.astimezone(MSK):%H:%M:%S} in "
        f"{heaviest.seconds * 1000:.0f} ms ({heaviest.seconds * 1000 / max(1, heaviest.sent):.2f} ms per row)\n"
    )
    if digest is not None:
        out(
            f"digest sweep: {digest.at.astimezone(MSK):%H:%M:%S}, {digest.digests} digests over {incidents} "
            f"incidents plus {digest.sent} reminders in {digest.seconds * 1000:.0f} ms\n"
        )
    out(
        f"sent once each: {day_sent} reminders and escalations, {day_rows} outbox rows, all as expected\n"
        f"catch-up after a day down ({back.astimezone(MSK):%a %H:%M}): one sweep, {catchup_sent} reminders and "
        f"escalations ({math.ceil(catchup_sent / 500)} batches of 500) + {catchup_total - catchup_sent} digests, "
        f"{catchup_rows} outbox rows in {catchup_seconds:.1f} s "
        f"({catchup_seconds * 1000 / max(1, catchup_sent):.2f} ms per row, {catchup.statements} SQL statements); "
        f"sent once each\n"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("count", nargs="?", type=int, default=10_000, help="open incidents (10000)")
    parser.add_argument("--interval", type=float, default=30.0, help="sweep interval, seconds (30)")
    parser.add_argument(
        "--phase",
        type=float,
        default=0.5,
        help="share of the interval the first tick comes before 9:00; due times bunch on round hours (0.5)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.count, args.interval, args.phase))
