"""The reminder sweep job: configured so that a missed run is never dropped, and it queues what is due."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from handlers import outbox
from handlers.incidents import ingest_message
from schedules.jobs import create_scheduler, sweep_reminders
from storage.db import SessionPool
from storage.models import Outbox
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link


def test_sweep_job_never_drops_a_missed_run(session_pool: SessionPool, clock: Clock) -> None:
    scheduler = create_scheduler(session_pool=session_pool, clock=clock, wakeup=lambda: None, sweep_seconds=15)
    job = scheduler.get_job("sweep_reminders")
    assert job is not None
    assert job.coalesce is True and job.misfire_grace_time is None and job.max_instances == 1
    assert job.trigger.interval == timedelta(seconds=15)


async def test_sweep_queues_due_reminders_and_wakes_the_worker(session_pool: SessionPool, clock: Clock) -> None:
    async with session_pool() as session:
        await link(session, 1, 7001)
        await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    woken: list[bool] = []
    clock.advance(days=3)
    # Friday 10:00 MSK: three reminders, the escalation and the head's morning digest are due.
    assert await sweep_reminders(session_pool, clock, lambda: woken.append(True)) == 5
    assert woken == [True]
    async with session_pool() as session:
        kinds = sorted(o.kind for o in await session.exec(select(Outbox)) if o.kind != outbox.CARD)
    assert kinds == [outbox.ACK, outbox.DIGEST, outbox.ESCALATION, *[outbox.REMINDER] * 3]
    assert await sweep_reminders(session_pool, clock, lambda: woken.append(True)) == 0
