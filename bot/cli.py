"""The `mcu` command: run the service, manage the database, staff, logins and monitored chats."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import getpass
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram.settings import TelegramSettings
from handlers.directory import (
    create_invite,
    list_sectors,
    list_sources,
    list_staff,
    seed_directory,
    set_source_ack,
    set_staff_chat,
    watch_chat,
)
from handlers.errors import DomainError
from handlers.sources import register_vk_source
from handlers.users import create_user
from handlers.vocab import ROLE_TITLES, SOURCE_KIND_TITLES
from storage.db import DatabaseSettings, create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Role, SourceKind

log = logging.getLogger("mcu")
# aiogram takes seconds to import: only the commands that talk to Telegram load it.
COMPONENTS = ("telegram", "vk", "worker", "scheduler", "admin")
T = TypeVar("T")


def _with_session(database: DatabaseSettings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(database.database_url)
        try:
            async with create_session_pool(engine)() as session:
                await seed_directory(session)
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def cmd_run(args: argparse.Namespace, database: DatabaseSettings) -> None:
    only = set(args.only.split(",")) if args.only else set(COMPONENTS)
    unknown = only - set(COMPONENTS)
    if unknown:
        raise SystemExit(f"неизвестные части: {', '.join(sorted(unknown))}; возможны: {', '.join(COMPONENTS)}")

    from bot.app import run

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await run(only=only, database=database)

    asyncio.run(main())


def cmd_db_upgrade(_args: argparse.Namespace, database: DatabaseSettings) -> None:
    # Migrations ran before the command; seeding an empty directory is all that is left.
    _with_session(database, seed_directory)
    _out("база данных обновлена")


def cmd_staff_list(_args: argparse.Namespace, database: DatabaseSettings) -> None:
    staff = _with_session(database, list_staff)
    _out(f"{'id':>3}  {'Telegram':<22}  {'ФИО':<34}  роли")
    for person in staff:
        if person.telegram_id is None:
            link = "не подключён"
        else:
            link = f"@{person.telegram_username}" if person.telegram_username else str(person.telegram_id)
        roles = ", ".join(ROLE_TITLES.get(r, r) for r in person.roles)
        state = "" if person.active else " (неактивен)"
        _out(f"{person.id:>3}  {link:<22}  {person.full_name:<34}  {roles}{state}")


async def _bot_username(settings: TelegramSettings) -> str:
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.token is None:
        raise SystemExit("задайте TELEGRAM_BOT_USERNAME или TELEGRAM_BOT_TOKEN, чтобы построить ссылку на бота")

    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        me = await bot.me()
    finally:
        await bot.session.close()
    if not me.username:
        raise SystemExit("Bot API не вернул имя бота; задайте TELEGRAM_BOT_USERNAME")
    return me.username


def cmd_staff_invite(args: argparse.Namespace, database: DatabaseSettings) -> None:
    username = asyncio.run(_bot_username(TelegramSettings()))
    token = _with_session(database, lambda s: create_invite(s, staff_id=args.staff_id, now=datetime.now(UTC)))
    _out(f"https://t.me/{username}?start={token}")


def cmd_users_create(args: argparse.Namespace, database: DatabaseSettings) -> None:
    if sys.stdin.isatty():
        password = getpass.getpass("Пароль: ")
        if getpass.getpass("Ещё раз: ") != password:
            raise SystemExit("пароли не совпали")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    user = _with_session(database, lambda s: create_user(s, login=args.login, password=password, role=args.role))
    _out(f"пользователь {user.login} ({user.role}) создан")


def cmd_chats_list(_args: argparse.Namespace, database: DatabaseSettings) -> None:
    for source in _with_session(database, list_sources):
        state = "" if source.active else " (не отслеживается)"
        kind = SOURCE_KIND_TITLES.get(source.kind, source.kind)
        ack = "автоответ" if source.ack else "без автоответа"
        _out(f"{source.id:>3}  {source.platform:<8}  {source.external_id:<16}  {kind}  «{source.title}»  {ack}{state}")


def cmd_chats_watch(args: argparse.Namespace, database: DatabaseSettings) -> None:
    kind = SourceKind.TG_DISCUSSION if args.comments else SourceKind.TG_GROUP

    async def work(session: AsyncSession) -> Any:
        return await watch_chat(session, staff=None, chat_id=args.chat_id, kind=kind, title=args.title or "")

    result = _with_session(database, work)
    _out(f"чат {args.chat_id} отслеживается: {SOURCE_KIND_TITLES[kind]}{'' if result.created else ' (обновлён)'}")


def cmd_chats_ack(args: argparse.Namespace, database: DatabaseSettings) -> None:
    on = args.state == "on"
    source = _with_session(database, lambda s: set_source_ack(s, source_id=args.source_id, ack=on))
    _out(f"источник {source.id}: автоответ с номером обращения {'включён' if on else 'выключен'}")


def cmd_vk_add(args: argparse.Namespace, database: DatabaseSettings) -> None:
    kind = {
        "community": SourceKind.VK_COMMUNITY,
        "page": SourceKind.VK_USER_PAGE,
        "public": SourceKind.VK_WATCHED_PUBLIC,
    }[args.vk_command]
    keywords = "\n".join(k.strip() for k in (args.keywords or "").split(",") if k.strip())

    async def work(session: AsyncSession) -> Any:
        return await register_vk_source(
            session, kind=kind, owner_id=args.owner_id, title=args.title or "", keywords=keywords
        )

    source = _with_session(database, work)
    _out(f"источник {source.id}: {SOURCE_KIND_TITLES[kind]} {source.external_id} отслеживается")


def cmd_classifier_predict(args: argparse.Namespace, database: DatabaseSettings) -> None:
    from sqlmodel import col, select

    from handlers.classifier import NOT_INCIDENT, default_classifier
    from handlers.routing import rule_matches
    from storage.models import AutoRule

    with open(args.input, encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    if rows and "text" not in rows[0]:
        raise SystemExit("во входном CSV нужна колонка text (и id)")

    async def active_rules(session: AsyncSession) -> list[AutoRule]:
        query = select(AutoRule).where(col(AutoRule.active).is_(True))
        return list(await session.exec(query.order_by(col(AutoRule.position), col(AutoRule.id))))

    # The same decision as routing: the first active auto-rule that names a sector, else the model's best guess
    # (given even when routing would ask the officer to choose).
    rules = [r for r in _with_session(database, active_rules) if r.sector_code and not r.source_kind]
    texts = [(r.get("text") or "").strip() for r in rows]
    predictions = iter(default_classifier().predict_many([t for t in texts if t]) if any(texts) else [])
    with open(args.output, "w", encoding="utf-8", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(["id", "sector", "confidence"])
        for row, text in zip(rows, texts, strict=True):
            # An empty message has nothing to route by: «Прочее» with no confidence, but its row is kept.
            sector, confidence = "other", 0.0
            if text:
                sector, confidence = next((s, p) for s, p in next(predictions).ranked if s != NOT_INCIDENT)
                rule = next((r for r in rules if rule_matches(r, text)), None)
                if rule is not None and rule.sector_code:
                    sector, confidence = rule.sector_code, 1.0
            writer.writerow([row.get("id", ""), sector, f"{confidence:.3f}"])
    _out(f"{len(rows)} сообщений распределено: {args.output}")


def cmd_classifier_train(args: argparse.Namespace, database: DatabaseSettings) -> None:
    from handlers.classifier import import_examples, retrain
    from handlers.history import History, drop_imported_before, read_history

    if args.mapping and not args.file:
        raise SystemExit("--mapping задаётся вместе с файлом выгрузки")
    mapping = Path(args.mapping) if args.mapping else None

    async def work(session: AsyncSession) -> tuple[History, int]:
        sectors = {s.code: s.title for s in await list_sectors(session)}
        history = read_history(Path(args.file), sectors=sectors, mapping=mapping) if args.file else History()
        await drop_imported_before(session, history)
        added = await import_examples(session, rows=history.rows, known_sectors=set(sectors), now=datetime.now(UTC))
        await retrain(session)
        return history, added

    history, added = _with_session(database, work)
    _out(f"добавлено примеров: {added}; классификатор обучен заново")
    skipped = {
        "без текста": history.empty,
        "без блока": history.unlabelled,
        "повторы в файле": history.duplicates,
        "импортированы раньше": history.imported_before,
        "тема не сопоставлена с блоком": sum(history.unmapped.values()),
    }
    if any(skipped.values()):
        _out("пропущено строк: " + ", ".join(f"{why} — {count}" for why, count in skipped.items() if count))
    if history.unmapped:
        _out("темы, которых нет в файле соответствия (строк, группа тем / тема):")
        for (group, topic), count in history.unmapped.most_common(10):
            _out(f"{count:>6}  {group} / {topic}")
        if len(history.unmapped) > 10:
            _out(f"        … и ещё {len(history.unmapped) - 10}; все темы выпишет `mcu classifier mapping`")
    _out("запущенный сервер подхватит его при следующем переобучении (раз в 6 часов) или после перезапуска")


def cmd_classifier_mapping(args: argparse.Namespace, database: DatabaseSettings) -> None:
    from handlers.history import write_mapping_template

    mapping = Path(args.mapping) if args.mapping else None

    async def work(session: AsyncSession) -> tuple[int, int]:
        sectors = {s.code: s.title for s in await list_sectors(session)}
        return write_mapping_template(Path(args.export), Path(args.output), sectors=sectors, mapping=mapping)

    topics, filled = _with_session(database, work)
    _out(f"тем в выгрузке: {topics}, из них с блоком: {filled}; записано в {args.output}")
    if filled < topics:
        _out("впишите в колонку sector код или название блока, затем: mcu classifier train ВЫГРУЗКА --mapping ФАЙЛ")


def cmd_calendar(args: argparse.Namespace, database: DatabaseSettings) -> None:
    from datetime import date, time

    from handlers.worktime import list_days, remove_day, set_day

    if args.calendar_command == "list":
        days = _with_session(database, list_days)
        for row in days:
            hours = f"{row.start:%H:%M}–{row.end:%H:%M}" if row.working and row.start and row.end else "выходной"
            _out(f"{row.day:%d.%m.%Y}  {hours}  {row.note}")
        if not days:
            _out("исключений нет: действует производственный календарь РФ")
        return
    try:
        day = date.fromisoformat(args.day)
    except ValueError:
        raise SystemExit("дата в виде ГГГГ-ММ-ДД, например 2026-12-30") from None
    if args.calendar_command == "remove":
        _with_session(database, lambda s: remove_day(s, day))
        _out(f"{day:%d.%m.%Y}: исключение снято")
        return
    if args.hours == "off":
        _with_session(database, lambda s: set_day(s, day=day, working=False, note=args.note))
        _out(f"{day:%d.%m.%Y}: выходной")
        return
    try:
        start, end = (time.fromisoformat(t) for t in args.hours.split("-"))
    except ValueError:
        raise SystemExit("часы в виде 09:00-17:00, или off для выходного") from None
    _with_session(database, lambda s: set_day(s, day=day, working=True, start=start, end=end, note=args.note))
    _out(f"{day:%d.%m.%Y}: рабочий день {start:%H:%M}–{end:%H:%M}")


def cmd_chats_staff(args: argparse.Namespace, database: DatabaseSettings) -> None:
    _with_session(database, lambda s: set_staff_chat(s, staff=None, chat_id=args.chat_id))
    _out(f"служебный чат МЦУ: {args.chat_id}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcu", description="Муниципальный центр управления: бот и админка")
    parser.add_argument("-v", "--verbose", action="store_true", help="подробный журнал")
    commands = parser.add_subparsers(dest="command", required=True)

    run_p = commands.add_parser("run", help="запустить всё: приём, доставку, планировщик, админку")
    run_p.add_argument("--only", help=f"только эти части через запятую: {','.join(COMPONENTS)}")
    run_p.set_defaults(func=cmd_run)

    db = commands.add_parser("db", help="база данных").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="применить миграции и заполнить пустой справочник").set_defaults(func=cmd_db_upgrade)

    staff = commands.add_parser("staff", help="сотрудники").add_subparsers(dest="staff_command", required=True)
    staff.add_parser("list", help="список сотрудников и их подключение к Telegram").set_defaults(func=cmd_staff_list)
    invite = staff.add_parser("invite", help="одноразовая ссылка для подключения сотрудника к боту")
    invite.add_argument("staff_id", type=int)
    invite.set_defaults(func=cmd_staff_invite)

    users = commands.add_parser("users", help="пользователи админки").add_subparsers(
        dest="users_command", required=True
    )
    create = users.add_parser("create", help="создать пользователя; пароль читается со стандартного ввода")
    create.add_argument("login")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.set_defaults(func=cmd_users_create)

    chats = commands.add_parser("chats", help="чаты Telegram").add_subparsers(dest="chats_command", required=True)
    chats.add_parser("list", help="отслеживаемые источники").set_defaults(func=cmd_chats_list)
    watch = chats.add_parser("watch", help="отслеживать группу Telegram")
    watch.add_argument("chat_id", type=int)
    watch.add_argument("--comments", action="store_true", help="это группа обсуждения официального канала")
    watch.add_argument("--title", help="название для карточек")
    watch.set_defaults(func=cmd_chats_watch)
    ack = chats.add_parser("ack", help="автоответ жителю с номером обращения для источника (номер из `chats list`)")
    ack.add_argument("source_id", type=int)
    ack.add_argument("state", choices=["on", "off"])
    ack.set_defaults(func=cmd_chats_ack)
    staff_chat = chats.add_parser("staff", help="назначить служебный чат МЦУ")
    staff_chat.add_argument("chat_id", type=int)
    staff_chat.set_defaults(func=cmd_chats_staff)
    calendar = commands.add_parser("calendar", help="исключения рабочего календаря").add_subparsers(
        dest="calendar_command", required=True
    )
    calendar.add_parser("list", help="все исключения").set_defaults(func=cmd_calendar)
    day_set = calendar.add_parser("set", help="сделать день выходным (off) или рабочим с часами 09:00-17:00")
    day_set.add_argument("day", help="ГГГГ-ММ-ДД")
    day_set.add_argument("hours", help="off или ЧЧ:ММ-ЧЧ:ММ")
    day_set.add_argument("--note", default="", help="основание: «предпраздничный», «решение главы»")
    day_set.set_defaults(func=cmd_calendar)
    day_remove = calendar.add_parser("remove", help="снять исключение")
    day_remove.add_argument("day", help="ГГГГ-ММ-ДД")
    day_remove.set_defaults(func=cmd_calendar)

    classifier = commands.add_parser("classifier", help="классификатор обращений").add_subparsers(
        dest="classifier_command", required=True
    )
    predict = classifier.add_parser("predict", help="распределить сообщения из CSV (id,text) по блокам")
    predict.add_argument("input", help="CSV с колонками id и text")
    predict.add_argument("output", help="куда записать id,sector,confidence")
    predict.set_defaults(func=cmd_classifier_predict)
    train = classifier.add_parser("train", help="дообучить на истории обращений и на исправлениях сотрудников")
    train.add_argument("file", nargs="?", help="CSV или XLSX: text и sector или выгрузка ЦУР (нужен --mapping)")
    train.add_argument("--mapping", help="CSV group,topic,sector: какие темы выгрузки в какой блок")
    train.set_defaults(func=cmd_classifier_train)
    topics = classifier.add_parser("mapping", help="выписать темы выгрузки ЦУР в шаблон файла соответствия")
    topics.add_argument("export", help="выгрузка CSV или XLSX с колонками «Группа тем» и «Тема»")
    topics.add_argument("output", help="куда записать group,topic,count,sector")
    topics.add_argument("--mapping", help="готовый файл соответствия: заполнить колонку sector по нему")
    topics.set_defaults(func=cmd_classifier_mapping)

    vk = commands.add_parser("vk", help="источники VK").add_subparsers(dest="vk_command", required=True)
    for name, title, owner in (
        ("community", "сообщество администрации", "номер сообщества (положительный)"),
        ("page", "страница главы района", "id пользователя"),
        ("public", "местный паблик или группа", "id владельца стены (у сообществ — с минусом)"),
    ):
        add = vk.add_parser(name, help=f"отслеживать: {title}")
        add.add_argument("owner_id", type=int, help=owner)
        add.add_argument("--title", help="название для карточек")
        if name == "public":
            add.add_argument("--keywords", help="слова через запятую: брать только сообщения, где они есть")
        add.set_defaults(func=cmd_vk_add, keywords=None)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every sweep would log twice a minute at INFO; its own lines say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    if args.command not in ("run", "db"):
        # Commands that print a listing or a link keep the terminal free of migration chatter.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    database = DatabaseSettings()
    upgrade(database.database_url)
    try:
        args.func(args, database)
    except DomainError as error:
        sys.stderr.write(error.message + "\n")
        raise SystemExit(2) from error


if __name__ == "__main__":
    main()
