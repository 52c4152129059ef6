"""The outbox delivery worker: sends due intents through a platform sender within the platform's limits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ratelimit import ChatLimiter
from handlers.delivery import record_failed, record_sent
from handlers.outbox import Failure, due_items, is_superseded
from storage.db import SessionPool
from storage.models import Outbox, OutboxState

log = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure


class Sender(Protocol):
    platform: str

    async def send(self, session: AsyncSession, item: Outbox, now: datetime) -> list[str]:
        """Render and send one intent; return the platform message ids, or raise DeliveryFailed."""
        ...


class OutboxWorker:
    def __init__(
        self,
        *,
        session_pool: SessionPool,
        sender: Sender,
        limiter: ChatLimiter,
        clock: Callable[[], datetime],
        idle_poll: float = 0.5,
        batch: int = 200,
    ) -> None:
        self.session_pool = session_pool
        self.sender = sender
        self.limiter = limiter
        self.clock = clock
        self.idle_poll = idle_poll
        self.batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        log.info("%s delivery worker started", self.sender.platform)
        while True:
            # Cleared before the round, so that a wake-up during it is not lost.
            self._wake.clear()
            try:
                pause = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s delivery round failed; retrying", self.sender.platform)
                pause = self.idle_poll * 4
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def tick(self) -> float:
        """Send what is due and allowed now; return how long to wait before the next round."""
        async with self.session_pool() as session:
            items = await due_items(session, platform=self.sender.platform, now=self.clock(), limit=self.batch)
        chosen: list[int] = []
        seen: set[str] = set()
        waits: list[float] = []
        for item in items:
            if item.chat_id in seen:
                continue  # one at a time per chat keeps each chat's messages in order
            seen.add(item.chat_id)
            wait = self.limiter.wait_time(item.chat_id)
            if wait > 0:
                waits.append(wait)
                continue
            self.limiter.take(item.chat_id)
            assert item.id is not None
            chosen.append(item.id)
        if chosen:
            await asyncio.gather(*(self._deliver(item_id) for item_id in chosen))
            return 0.0
        return min([self.idle_poll, *waits]) if items else self.idle_poll

    async def _deliver(self, item_id: int) -> None:
        async with self.session_pool() as session:
            item = await session.get(Outbox, item_id)
            if item is None or item.state != OutboxState.PENDING:
                return
            if await is_superseded(session, item):
                await record_sent(session, item=item, message_ids=[], now=self.clock())
                return
            try:
                message_ids = await self.sender.send(session, item, self.clock())
            except DeliveryFailed as failed:
                if failed.failure.retry_after is not None:
                    self.limiter.block(item.chat_id, failed.failure.retry_after)
                log.warning("outbox %s (%s to %s) failed: %s", item.id, item.kind, item.chat_id, failed.failure.error)
                await record_failed(session, item=item, failure=failed.failure, now=self.clock())
                return
            except Exception as error:
                log.exception("outbox %s (%s) failed unexpectedly", item.id, item.kind)
                await session.rollback()
                fresh = await session.get(Outbox, item_id)
                if fresh is not None:
                    await record_failed(session, item=fresh, failure=Failure(error=repr(error)), now=self.clock())
                return
            await record_sent(session, item=item, message_ids=message_ids, now=self.clock())
