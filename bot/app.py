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
from bot.ratelimit import ChatLimiter, telegram_limiter, vk_limiter
from bot.telegram.delivery import TelegramSender
from bot.telegram.middleware import ContextMiddleware
from bot.telegram.routers import create_routers
from bot.telegram.settings import TelegramSettings
from bot.telegram.webhook import PATH as WEBHOOK_PATH
from bot.telegram.webhook import create_webhook_router
from bot.vk.callback import PATH as CALLBACK_PATH
from bot.vk.callback import InboxProcessor, create_callback_router
from bot.vk.client import VkClient, VkError, VkUnavailable
from bot.vk.delivery import VkClients, VkSender
from bot.vk.intake import NameCache, VkIntake
from bot.vk.longpoll import LongPoll
from bot.vk.poller import WallPoller
from bot.vk.settings import VkSettings
from bot.worker import OutboxWorker, Sender
from handlers.classifier import retrain
from handlers.directory import seed_directory
from handlers.sources import register_vk_source
from schedules.jobs import Periodic, create_scheduler
from schedules.settings import SchedulerSettings
from storage.db import DatabaseSettings, SessionPool, create_engine, create_session_pool
from storage.models import SourceKind

log = logging.getLogger(__name__)

# Tasks that stop by themselves once told to (Telegram polling, the web server); the rest are cancelled.
GRACEFUL = ("graceful", "admin")
RETRAIN_SECONDS = 6 * 3600


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


@dataclass
class Runtime:
    """What the started components leave for the main loop: tasks to watch, routes, jobs, things to close."""

    session_pool: SessionPool
    clock: Callable[[], datetime]
    only: set[str]
    wakeup: Wakeup = field(default_factory=Wakeup)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)
    polling: tuple[Dispatcher, Bot] | None = None
    closers: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)

    def keep(self, name: str, start: Callable[[], Coroutine[Any, Any, None]], *, graceful: bool = False) -> None:
        task = asyncio.create_task(_keep_running(name, start), name="graceful" if graceful else name)
        self.tasks.append(task)

    def deliver(self, sender: Sender, limiter: ChatLimiter, name: str) -> None:
        if "worker" not in self.only:
            return
        worker = OutboxWorker(session_pool=self.session_pool, sender=sender, limiter=limiter, clock=self.clock)
        self.wakeup.callbacks.append(worker.wake)
        self.keep(name, worker.run)


def start_telegram(rt: Runtime, telegram: TelegramSettings, admin: AdminSettings) -> None:
    if telegram.token is None:
        log.warning("Telegram: выключен — не задан TELEGRAM_BOT_TOKEN (см. .env.example)")
        return
    bot = create_bot(telegram)
    rt.closers.append(bot.session.close)
    dispatcher = create_dispatcher(session_pool=rt.session_pool, clock=rt.clock, wakeup=rt.wakeup)
    rt.deliver(TelegramSender(bot, admin_url=admin.public_url), telegram_limiter(), "Telegram: доставка")
    if "telegram" not in rt.only:
        return
    if telegram.mode == "webhook":
        secret = telegram.secret or secrets.token_urlsafe(32)
        if not telegram.webhook_url:
            raise SystemExit("TELEGRAM_MODE=webhook требует TELEGRAM_WEBHOOK_URL (публичный адрес сервера)")
        rt.routers.append(create_webhook_router(bot=bot, dispatcher=dispatcher, secret=secret))
        url = telegram.webhook_url.rstrip("/") + WEBHOOK_PATH

        async def set_webhook() -> None:
            await bot.set_webhook(url, secret_token=secret, allowed_updates=dispatcher.resolve_used_update_types())
            log.info("Telegram: приём через вебхук %s", url)

        rt.keep("Telegram: вебхук", set_webhook)
        if "admin" not in rt.only:
            log.warning("Telegram: вебхук принимает админ-сервер, а он в этом процессе не запущен")
        return
    rt.polling = (dispatcher, bot)

    async def poll() -> None:
        log.info("Telegram: приём сообщений через long polling (%s)", telegram.api_base)
        # Updates are handled one batch at a time: the next getUpdates confirms a batch only
        # after it is stored, so a crash makes Telegram deliver it again (intake is idempotent).
        await dispatcher.start_polling(
            bot,
            handle_signals=False,
            handle_as_tasks=False,
            allowed_updates=dispatcher.resolve_used_update_types(),
        )

    rt.keep("Telegram: приём", poll, graceful=True)


async def start_vk(rt: Runtime, vk: VkSettings) -> None:
    community_token, user_token = vk.community, vk.user
    if community_token is None and user_token is None:
        log.warning("VK: выключен — не заданы VK_COMMUNITY_TOKEN и VK_USER_TOKEN (см. .env.example)")
        return
    community = VkClient(community_token, api_base=vk.api_base, group=True) if community_token else None
    user = VkClient(user_token, api_base=vk.api_base, group=False) if user_token else None
    title = ""
    if community is not None and vk.community_id:
        try:
            found = await community.call("groups.getById", group_id=vk.community_id)
            title = str((found.get("groups") or [{}])[0].get("name", ""))
        except (VkError, VkUnavailable) as error:
            log.warning("VK: название сообщества %s не получено: %s", vk.community_id, error)
    async with rt.session_pool() as session:
        if community is not None and vk.community_id:
            group = await register_vk_source(
                session, kind=SourceKind.VK_COMMUNITY, owner_id=vk.community_id, title=title
            )
        else:
            group = None
        if user is not None and vk.page_id:
            await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=vk.page_id)
    intake = VkIntake(session_pool=rt.session_pool, clock=rt.clock, wakeup=rt.wakeup, names=NameCache(community, user))
    rt.deliver(
        VkSender(VkClients(community=community, user=user, community_id=vk.community_id)), vk_limiter(), "VK: доставка"
    )
    if "vk" not in rt.only:
        return
    if community is None or group is None or group.id is None:
        log.warning("VK: сообщество не подключено — нужны VK_COMMUNITY_ID и VK_COMMUNITY_TOKEN")
    elif vk.mode == "callback":
        processor = InboxProcessor(session_pool=rt.session_pool, intake=intake, clock=rt.clock)
        rt.routers.append(
            create_callback_router(
                group_id=int(group.external_id),
                confirmation=vk.callback_confirmation,
                secret=vk.secret,
                session_pool=rt.session_pool,
                processor=processor,
                clock=rt.clock,
            )
        )
        rt.periodic.append(Periodic("vk_inbox", processor.process_pending, 30))
        log.info("VK: приём событий сообщества %s через Callback API (%s)", group.external_id, CALLBACK_PATH)
    else:
        longpoll = LongPoll(
            client=community,
            intake=intake,
            session_pool=rt.session_pool,
            clock=rt.clock,
            source_id=group.id,
            group_id=int(group.external_id),
            wait=vk.longpoll_wait,
        )
        rt.keep("VK: Long Poll", longpoll.run)
    poller = WallPoller(client=user, intake=intake, session_pool=rt.session_pool, clock=rt.clock, posts=vk.poll_posts)
    rt.periodic.append(Periodic("vk_walls", poller.poll_all, vk.poll_seconds))
    log.info("VK: страницы и паблики проверяются каждые %.0f с", vk.poll_seconds)


async def run(
    *,
    only: set[str] | None = None,
    database: DatabaseSettings | None = None,
    telegram: TelegramSettings | None = None,
    vk: VkSettings | None = None,
    admin: AdminSettings | None = None,
    clock: Callable[[], datetime] = utc_now,
    reminder_sweep_seconds: float | None = None,
) -> None:
    """Start every requested component in this process and run until cancelled."""
    admin = admin or AdminSettings()
    if reminder_sweep_seconds is None:
        reminder_sweep_seconds = SchedulerSettings().sweep_seconds
    engine = create_engine((database or DatabaseSettings()).database_url)
    rt = Runtime(session_pool=create_session_pool(engine), clock=clock, only=set(COMPONENTS) if only is None else only)
    async with rt.session_pool() as session:
        if await seed_directory(session):
            log.info("справочник заполнен по приложению 2 постановления о МЦУ")
        # Trained (or loaded from data/cache) before intake starts, in a thread: the first message must not wait.
        await retrain(session)
    log.info("классификатор обращений готов")

    async def retrain_job() -> None:
        async with rt.session_pool() as session:
            await retrain(session)

    # Staff corrections («Другой блок») teach the model; it learns them every few hours.
    rt.periodic.append(Periodic("classifier", retrain_job, RETRAIN_SECONDS, run_at_start=False))

    start_telegram(rt, telegram or TelegramSettings(), admin)
    await start_vk(rt, vk or VkSettings())

    scheduler = None
    if "scheduler" in rt.only:
        scheduler = create_scheduler(
            session_pool=rt.session_pool,
            clock=clock,
            wakeup=rt.wakeup,
            sweep_seconds=reminder_sweep_seconds,
            periodic=rt.periodic,
        )
        scheduler.start()
        log.info("планировщик: напоминания проверяются каждые %s с", reminder_sweep_seconds)

    server = None
    if "admin" in rt.only:
        app = create_app(session_pool=rt.session_pool, settings=admin, clock=clock, routers=rt.routers)
        server = _Server(uvicorn.Config(app, host=admin.host, port=admin.port, log_level="info", lifespan="off"))
        rt.tasks.append(asyncio.create_task(server.serve(), name="admin"))
        log.info("админка: http://%s:%s (проверка: /healthz)", admin.host, admin.port)

    try:
        # asyncio.wait, unlike gather, leaves the tasks alone when this coroutine is cancelled,
        # so that they can be stopped in order below.
        if rt.tasks:
            done, _ = await asyncio.wait(rt.tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        else:
            await asyncio.Event().wait()
    finally:
        if rt.polling is not None:
            with contextlib.suppress(RuntimeError):  # raised when polling has not started yet
                await rt.polling[0].stop_polling()
        if server is not None:
            server.should_exit = True
        # Polling and the web server finish what they hold; the loops that only wait are cancelled at once.
        graceful = [t for t in rt.tasks if t.get_name() in GRACEFUL]
        if graceful:
            await asyncio.wait(graceful, timeout=5)
        for task in rt.tasks:
            task.cancel()
        for task in rt.tasks:
            with contextlib.suppress(BaseException):
                await task
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        for close in rt.closers:
            await close()
        await engine.dispose()
        log.info("остановлено")
