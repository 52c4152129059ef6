"""The VK Callback API endpoint: check, store, answer `ok` at once; the stored event is processed right after."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from bot.vk.intake import VkIntake
from handlers.sources import pending_inbox, settle_inbox, store_inbox
from storage.db import SessionPool

log = logging.getLogger(__name__)

PATH = "/vk/callback"
MAX_BODY = 1_000_000


class InboxProcessor:
    """Processes stored events; run after each new one and by the scheduler for anything a crash left behind."""

    def __init__(self, *, session_pool: SessionPool, intake: VkIntake, clock: Callable[[], datetime]) -> None:
        self.session_pool = session_pool
        self.intake = intake
        self.clock = clock
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[int]] = set()

    def kick(self) -> None:
        task = asyncio.create_task(self.process_pending())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process_pending(self) -> int:
        done = 0
        async with self._lock:  # one pass at a time keeps events in order
            async with self.session_pool() as session:
                items = [(i.id, i.payload) for i in await pending_inbox(session, platform="vk")]
            for inbox_id, payload in items:
                assert inbox_id is not None
                error: str | None = None
                try:
                    await self.intake.handle_event(payload)
                    done += 1
                except Exception as failure:
                    log.exception("VK event %s failed; it stays in the inbox for a retry", inbox_id)
                    error = repr(failure)
                async with self.session_pool() as session:
                    await settle_inbox(session, inbox_id=inbox_id, now=self.clock(), error=error)
        return done


def _text(body: str, status: int = 200) -> PlainTextResponse:
    return PlainTextResponse(body, status_code=status)


def create_callback_router(
    *,
    group_id: int,
    confirmation: str | None,
    secret: str | None,
    session_pool: SessionPool,
    processor: InboxProcessor,
    clock: Callable[[], datetime],
) -> APIRouter:
    router = APIRouter(tags=["webhooks"])

    @router.post(PATH, include_in_schema=False)
    async def vk_callback(request: Request) -> PlainTextResponse:
        """Take one Callback API event from VK."""
        body = await request.body()
        if len(body) > MAX_BODY:
            return _text("event too large", 413)
        try:
            event = json.loads(body)
        except ValueError:
            log.warning("VK callback: malformed JSON refused: %.200r", body)
            return _text("malformed JSON", 400)
        if not isinstance(event, dict) or "type" not in event:
            return _text("not a VK event", 400)
        if event.get("group_id") != group_id:
            log.warning("VK callback for group %r refused: this server serves %s", event.get("group_id"), group_id)
            return _text("unknown group", 400)
        if event["type"] == "confirmation":
            if not confirmation:
                log.error("VK asks for confirmation, but VK_CALLBACK_CONFIRMATION is not set")
                return _text("confirmation string not configured", 503)
            return _text(confirmation)
        if secret is not None and not hmac.compare_digest(str(event.get("secret", "")).encode(), secret.encode()):
            log.warning("VK callback with a wrong secret refused")
            return _text("wrong secret", 403)
        event.pop("secret", None)
        event_id = str(event.get("event_id") or hashlib.sha256(body).hexdigest())
        async with session_pool() as session:
            new = await store_inbox(session, platform="vk", event_id=event_id, payload=event, now=clock())
        if new:
            processor.kick()
        else:
            log.info(
                "VK event %s delivered again (retry %s): already taken",
                event_id,
                request.headers.get("x-retry-counter"),
            )
        return _text("ok")

    return router
