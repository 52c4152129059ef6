"""The composition root: settings → engine → session pool → bot, dispatcher, worker, scheduler, admin server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.memory import MemoryStorage
from fastapi import APIRouter

from admin.app import create_app
from admin.settings import AdminSettings
from bot.cli import COMPONENTS
from bot.ratelimit import telegram_limiter
from bot.telegram.delivery import TelegramSender
from bot.telegram.middleware import ContextMiddleware
from bot.telegram.routers import create_routers
from bot.telegram.settings import TelegramSettings
from bot.telegram.webhook import PATH as WEBHOOK_PATH
from bot.telegram.webhook import create_webhook_router
from bot.worker import OutboxWorker
from handlers.directory import seed_directory
from schedules.jobs import create_scheduler
from storage.db import DatabaseSettings, SessionPool, create_engine, create_session_pool

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_bot(settings: TelegramSettings) -> Bot:
    token = settings.token
    assert token is not None
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_base))
    return Bot(token=token, session=session)


def create_dispatcher(
    *, session_pool: SessionPool, clock: Callable[[], datetime], wakeup: Callable[[], None]
) -> Dispatcher:
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.update.outer_middleware(ContextMiddleware(session_pool, clock, wakeup))
    dispatcher.include_routers(*create_routers())
    return dispatcher


@dataclass
class Wakeup:
    """Pokes the delivery workers when a handler has queued something."""

    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def __call__(self) -> None:
        for callback in self.callbacks:
            callback()


class _Server(uvicorn.Server):
    """Uvicorn without its own signal handling: the `mcu` command owns the signals of the process."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _keep_running(name: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a connector; if it fails (the platform is down, say), log it and start it again with a back-off."""
    delay = 1.0
    while True:
        try:
            await start()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: остановлен из-за ошибки, перезапуск через %.0f с", name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60)


async def run(
    *,
    only: set[str] | None = None,
    database: DatabaseSettings | None = None,
    telegram: TelegramSettings | None = None,
    admin: AdminSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
    reminder_sweep_seconds: float = 30,
) -> None:
    """Start every requested component in this process and run until cancelled."""
    only = set(COMPONENTS) if only is None else only
    database = database or DatabaseSettings()
    telegram = telegram or TelegramSettings()
    admin = admin or AdminSettings()

    engine = create_engine(database.database_url)
    session_pool = create_session_pool(engine)
    async with session_pool() as session:
        if await seed_directory(session):
            log.info("справочник заполнен по приложению 2 постановления о МЦУ")

    wakeup = Wakeup()
    tasks: list[asyncio.Task[None]] = []
    routers: list[APIRouter] = []
    bot: Bot | None = None
    polling: Dispatcher | None = None

    if telegram.token is None:
        log.warning("Telegram: выключен — не задан TELEGRAM_BOT_TOKEN (см. .env.example)")
    else:
        bot = create_bot(telegram)
        dispatcher = create_dispatcher(session_pool=session_pool, clock=clock, wakeup=wakeup)
        if "worker" in only:
            worker = OutboxWorker(
                session_pool=session_pool,
                sender=TelegramSender(bot, admin_url=admin.public_url),
                limiter=telegram_limiter(),
                clock=clock,
            )
            wakeup.callbacks.append(worker.wake)
            tasks.append(asyncio.create_task(_keep_running("Telegram: доставка", worker.run)))
        if "telegram" in only:
            if telegram.mode == "webhook":
                secret = telegram.secret or secrets.token_urlsafe(32)
                if not telegram.webhook_url:
                    raise SystemExit("TELEGRAM_MODE=webhook требует TELEGRAM_WEBHOOK_URL (публичный адрес сервера)")
                routers.append(create_webhook_router(bot=bot, dispatcher=dispatcher, secret=secret))
                url = telegram.webhook_url.rstrip("/") + WEBHOOK_PATH
                webhook_bot = bot

                async def set_webhook() -> None:
                    await webhook_bot.set_webhook(
                        url, secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types()
                    )
                    log.info("Telegram: приём через вебхук %s", url)

                tasks.append(asyncio.create_task(_keep_running("Telegram: вебхук", set_webhook)))
                if "admin" not in only:
                    log.warning("Telegram: вебхук принимает админ-сервер, а он в этом процессе не запущен")
            else:
                polling_bot, polling = bot, dispatcher

                async def poll() -> None:
                    log.info("Telegram: приём сообщений через long polling (%s)", telegram.api_base)
                    # Updates are handled one batch at a time: the next getUpdates confirms a batch only
                    # after it is stored, so a crash makes Telegram deliver it again (intake is idempotent).
                    await dispatcher.start_polling(
                        polling_bot,
                        handle_signals=False,
                        handle_as_tasks=False,
                        allowed_updates=dispatcher.resolve_used_update_types(),
                    )

                tasks.append(asyncio.create_task(_keep_running("Telegram: приём", poll)))

    if "scheduler" in only:
        scheduler = create_scheduler(
            session_pool=session_pool, clock=clock, wakeup=wakeup, sweep_seconds=reminder_sweep_seconds
        )
        scheduler.start()
        log.info("планировщик: напоминания проверяются каждые %s с", reminder_sweep_seconds)
    else:
        scheduler = None

    if "admin" in only:
        app = create_app(session_pool=session_pool, settings=admin, clock=clock, routers=routers)
        config = uvicorn.Config(app, host=admin.host, port=admin.port, log_level="info", lifespan="off")
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve()))
        log.info("админка: http://%s:%s (проверка: /healthz)", admin.host, admin.port)

    else:
        server = None

    try:
        # asyncio.wait, unlike gather, leaves the tasks alone when this coroutine is cancelled,
        # so that they can be stopped in order below.
        if tasks:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        else:
            await asyncio.Event().wait()
    finally:
        if polling is not None:
            with contextlib.suppress(RuntimeError):  # raised when polling has not started yet
                await polling.stop_polling()
        if server is not None:
            server.should_exit = True
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if bot is not None:
            await bot.session.close()
        await engine.dispose()
        log.info("остановлено")
