"""Bots Long Poll of the administration's community, resuming from the `ts` saved after each committed batch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp

from bot.vk.client import VkClient, VkError
from bot.vk.intake import VkIntake
from handlers.sources import get_cursor, set_cursor, suspend_source
from storage.db import SessionPool

log = logging.getLogger(__name__)

TS_KEY = "longpoll_ts"


class LongPoll:
    def __init__(
        self,
        *,
        client: VkClient,
        intake: VkIntake,
        session_pool: SessionPool,
        clock: Callable[[], datetime],
        source_id: int,
        group_id: int,
        wait: int = 25,
    ) -> None:
        self.client = client
        self.intake = intake
        self.session_pool = session_pool
        self.clock = clock
        self.source_id = source_id
        self.group_id = group_id
        self.wait = wait

    async def _server(self) -> dict[str, Any]:
        server: dict[str, Any] = await self.client.call("groups.getLongPollServer", group_id=self.group_id)
        return server

    async def run(self) -> None:
        try:
            await self._run()
        except VkError as error:
            if not error.fatal:
                raise
            async with self.session_pool() as session:
                await suspend_source(session, source_id=self.source_id, error=str(error), now=self.clock())

    async def _run(self) -> None:
        server = await self._server()
        async with self.session_pool() as session:
            ts = await get_cursor(session, source_id=self.source_id, key=TS_KEY)
            if ts is None:
                # The first start reads from now; the position is kept at once, so that what comes while
                # the process is down later is read, not skipped.
                ts = str(server["ts"])
                await set_cursor(session, source_id=self.source_id, key=TS_KEY, value=ts, now=self.clock())
        log.info("VK: приём событий сообщества %s через Bots Long Poll (ts %s)", self.group_id, ts)
        delay = 1.0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.wait + 15)) as http:
            while True:
                params = {"act": "a_check", "key": server["key"], "ts": ts, "wait": self.wait}
                try:
                    async with http.get(server["server"], params=params) as response:
                        response.raise_for_status()
                        answer = await response.json(content_type=None)
                except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                    log.warning("VK long poll unreachable (%r); retry in %.0f s", error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60)
                    continue
                delay = 1.0
                failed = answer.get("failed")
                if failed == 1:
                    ts = str(answer["ts"])  # events were lost from VK's history: take the new position
                    log.warning("VK long poll history is gone; continuing from ts %s", ts)
                    continue
                if failed in (2, 3):
                    server = await self._server()
                    if failed == 3:
                        log.warning("VK long poll key and ts expired; continuing from ts %s", server["ts"])
                        ts = str(server["ts"])
                    continue
                for event in answer.get("updates") or []:
                    await self.intake.handle_event(event)
                # Saved only after the batch is stored: a crash before this line re-reads it (intake is idempotent).
                ts = str(answer.get("ts", ts))
                async with self.session_pool() as session:
                    await set_cursor(session, source_id=self.source_id, key=TS_KEY, value=ts, now=self.clock())
