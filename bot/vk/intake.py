"""VK events and polled comments in: names resolved, then the same handlers as every other platform."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.vk.client import VkClient, VkError, VkUnavailable
from bot.vk.parse import PLATFORM, Change, author_ids, event_message
from handlers.incidents import delete_message, edit_message, ingest_message
from handlers.types import CitizenMessage
from storage.db import SessionPool

log = logging.getLogger(__name__)


class NameCache:
    """Citizens' names for cards, asked of VK once per person (users.get takes many ids in one call)."""

    def __init__(self, *clients: VkClient | None, limit: int = 50_000) -> None:
        # Any token may ask for names: the next one is tried when one fails (a revoked community key, say).
        self.clients = [c for c in clients if c is not None]
        self.limit = limit
        self.names: dict[int, str] = {}

    async def resolve(self, ids: list[int]) -> dict[int, str]:
        missing = sorted({i for i in ids if i > 0 and i not in self.names})
        for client in self.clients if missing else []:
            try:
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    people = await client.call("users.get", user_ids=",".join(map(str, chunk)))
                    for person in people or []:
                        name = f"{person.get('first_name', '')} {person.get('last_name', '')}"
                        self.names[int(person["id"])] = name.strip()
                break
            except (VkError, VkUnavailable) as error:
                # A card without a name is still a card: the profile link is on it.
                log.warning("VK names of %s not resolved: %s", missing[:5], error)
        if len(self.names) > self.limit:
            self.names.clear()
        return {i: self.names[i] for i in ids if i in self.names}


class VkIntake:
    def __init__(
        self,
        *,
        session_pool: SessionPool,
        clock: Callable[[], datetime],
        wakeup: Callable[[], None],
        names: NameCache,
    ) -> None:
        self.session_pool = session_pool
        self.clock = clock
        self.wakeup = wakeup
        self.names = names

    async def handle_event(self, event: dict[str, Any]) -> None:
        """Process one Bots Long Poll / Callback API event; unknown or empty ones are logged and skipped."""
        kind, event_id = event.get("type"), event.get("event_id")
        try:
            parsed = event_message(event, names=await self.names.resolve(author_ids(event)))
        except (KeyError, TypeError, ValueError) as error:
            log.warning("VK event %s (%s) malformed, skipped: %r", event_id, kind, error)
            return
        if parsed is None:
            log.info("VK event %s (%s) carries no citizen message: skipped", event_id, kind)
            return
        if isinstance(parsed, Change):
            await self._change(str(event["group_id"]), parsed)
        else:
            await self.ingest(parsed)

    async def ingest(self, message: CitizenMessage) -> None:
        async with self.session_pool() as session:
            result = await ingest_message(session, message=message, now=self.clock())
        if result.ignored:
            log.info("VK message %s from a source not in the directory: skipped", message.external_id)
        self.wakeup()

    async def _change(self, source_id: str, change: Change) -> None:
        async with self.session_pool() as session:
            if change.text is None:
                await delete_message(
                    session,
                    platform=PLATFORM,
                    platform_source_id=source_id,
                    external_id=change.external_id,
                    now=self.clock(),
                )
            else:
                await edit_message(
                    session,
                    platform=PLATFORM,
                    platform_source_id=source_id,
                    external_id=change.external_id,
                    text=change.text,
                    now=self.clock(),
                )
        self.wakeup()
