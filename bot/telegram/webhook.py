"""The Telegram webhook endpoint, mounted on the admin server when TELEGRAM_MODE=webhook."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import ValidationError

log = logging.getLogger(__name__)

PATH = "/telegram/webhook"
MAX_BODY = 1_000_000


def create_webhook_router(*, bot: Bot, dispatcher: Dispatcher, secret: str) -> APIRouter:
    if not secret:
        raise ValueError("the Telegram webhook needs a non-empty secret token")
    router = APIRouter(tags=["webhooks"])

    @router.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request) -> dict[str, Any]:
        """Take one update from Telegram; answer only after it is stored, so a failure makes Telegram resend."""
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong secret token")
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "update too large")
        try:
            update = Update.model_validate_json(body, context={"bot": bot})
        except ValidationError:
            log.warning("malformed Telegram update ignored: %.200r", body)
            return {"ok": True}
        await dispatcher.feed_update(bot, update)
        return {"ok": True}

    return router
