"""Polling the head of district's page and watched publics: new comments under recent posts, via `execute`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.vk.client import VkClient, VkError, VkUnavailable
from bot.vk.intake import VkIntake
from bot.vk.parse import PLATFORM, comment_message
from handlers.sources import active_sources, get_cursor, mentions_keywords, set_cursor, suspend_source
from handlers.types import SourceRef
from storage.db import SessionPool
from storage.models import Source, SourceKind

log = logging.getLogger(__name__)

POLLED = (SourceKind.VK_USER_PAGE, SourceKind.VK_WATCHED_PUBLIC)
PAGE = 100  # wall.getComments' largest page


def _flatten(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flat: list[dict[str, Any]] = []
    for comment in comments:
        flat.append(comment)
        flat.extend((comment.get("thread") or {}).get("items") or [])
    return flat


class WallPoller:
    def __init__(
        self,
        *,
        client: VkClient | None,
        intake: VkIntake,
        session_pool: SessionPool,
        clock: Callable[[], datetime],
        posts: int = 10,
    ) -> None:
        self.client = client
        self.intake = intake
        self.session_pool = session_pool
        self.clock = clock
        self.posts = posts

    async def poll_all(self) -> int:
        """One round over every polled source; a failing source is stopped or skipped, the others go on."""
        async with self.session_pool() as session:
            sources = await active_sources(session, kinds=POLLED)
        if sources and self.client is None:
            log.warning("VK: %s pages/publics to poll, but VK_USER_TOKEN is not set", len(sources))
            return 0
        taken = 0
        for source in sources:
            try:
                taken += await self.poll(source)
            except VkError as error:
                if not error.fatal:
                    log.warning("VK source %s skipped this round: %s", source.external_id, error)
                    continue
                async with self.session_pool() as session:
                    await suspend_source(session, source_id=source.id or 0, error=str(error), now=self.clock())
            except VkUnavailable as error:
                log.warning("VK unavailable while polling %s: %s", source.external_id, error)
        return taken

    @staticmethod
    def _page(owner: int, post_id: int, offset: int) -> dict[str, Any]:
        return {
            "owner_id": owner, "post_id": post_id, "count": PAGE, "offset": offset, "sort": "desc",
            "thread_items_count": 10,
        }  # fmt: skip

    async def poll(self, source: Source) -> int:
        assert self.client is not None and source.id is not None
        owner = int(source.external_id)
        wall = await self.client.call("wall.get", owner_id=owner, count=self.posts)
        posts = [p for p in wall.get("items", []) if (p.get("comments") or {}).get("count", 0) > 0]
        cursors: dict[int, int] = {}
        async with self.session_pool() as session:
            for post in posts:
                cursors[post["id"]] = int(await get_cursor(session, source_id=source.id, key=f"post{post['id']}") or 0)
        # Newest first and without start_comment_id, so that a new reply under an older comment is seen too.
        calls = [("wall.getComments", self._page(owner, post["id"], 0)) for post in posts]
        results = await self.client.execute(calls) if calls else []
        ref = SourceRef(platform=PLATFORM, kind=source.kind, external_id=source.external_id, title=source.title)
        taken = 0
        for post, result in zip(posts, results, strict=False):
            top = list((result or {}).get("items") or [])
            # More new comments than one page holds since the last round: read on until the known ones.
            while len(top) % PAGE == 0 and top and min(int(c["id"]) for c in top) > cursors[post["id"]]:
                more = await self.client.call("wall.getComments", **self._page(owner, post["id"], len(top)))
                if not more.get("items"):
                    break
                top.extend(more["items"])
            comments = [c for c in _flatten(top) if int(c["id"]) > cursors[post["id"]]]
            if not comments:
                continue
            names = await self.intake.names.resolve([int(c.get("from_id") or 0) for c in comments])
            for comment in sorted(comments, key=lambda c: int(c["id"])):
                message = comment_message(ref, comment, owner_id=owner, post_id=post["id"], names=names)
                if message is None:
                    continue
                if not mentions_keywords(source, message.text):
                    log.debug("VK comment %s does not mention the district: skipped", message.external_id)
                    continue
                await self.intake.ingest(message)
                taken += 1
            newest = max(int(c["id"]) for c in comments)
            async with self.session_pool() as session:
                await set_cursor(
                    session, source_id=source.id, key=f"post{post['id']}", value=str(newest), now=self.clock()
                )
        return taken
