"""APScheduler jobs. Due times live in the database; a job only sweeps what is due, so nothing is missed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.deadlines import send_daily_digest, send_due_reminders
from storage.db import SessionPool

log = logging.getLogger(__name__)


async def sweep_reminders(session_pool: SessionPool, clock: Callable[[], datetime], wakeup: Callable[[], None]) -> int:
    """Everything due by now: reminders and escalations (oldest first, in batches), then the morning digest."""
    async with session_pool() as session:
        sent = await send_due_reminders(session, now=clock())
        digests = await send_daily_digest(session, now=clock())
    if sent or digests:
        log.info("%s reminders and escalations, %s digests queued", sent, digests)
        wakeup()
    return sent + digests


@dataclass(frozen=True)
class Periodic:
    """A job an adapter brings (VK polling, the callback inbox sweep): run every `seconds`, never two at once."""

    name: str
    run: Callable[[], Awaitable[Any]]
    seconds: float
    # False when the start-up already did this job's work (the classifier is trained before intake starts).
    run_at_start: bool = True


async def _logged(job: Periodic) -> None:
    try:
        await job.run()
    except asyncio.CancelledError:
        # The scheduler cancels a running job when the process stops: no error, the next start reads on from the
        # saved positions. Not re-raised, or APScheduler logs the cancellation as a failure with a traceback.
        log.info("job %s cut short: the process is stopping", job.name)
    except Exception:
        log.exception("job %s failed; it runs again next time", job.name)


def create_scheduler(
    *,
    session_pool: SessionPool,
    clock: Callable[[], datetime],
    wakeup: Callable[[], None],
    sweep_seconds: float = 30,
    periodic: list[Periodic] | None = None,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        sweep_reminders,
        "interval",
        seconds=sweep_seconds,
        args=[session_pool, clock, wakeup],
        id="sweep_reminders",
        # A missed run is harmless (the next sweep finds everything due), so never pile runs up.
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=clock(),
    )
    for job in periodic or []:
        scheduler.add_job(
            _logged,
            "interval",
            seconds=job.seconds,
            args=[job],
            id=job.name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=clock() if job.run_at_start else clock() + timedelta(seconds=job.seconds),
        )
    return scheduler
