"""End-to-end: reminders and the escalation survive `kill -9`; after the restart each is sent exactly once.

The process is killed while the reminders of an incident are still ahead. While it is down, the incident's
deadline and its reminders are moved into the past (all by the same amount, so their order is kept): that is
the process coming back after their due time, without waiting hours. After the restart the sweep must send
each one once, in due order; another `kill -9` and restart must send nothing again.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import pytest
import pytest_asyncio
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from bot.telegram import texts
from storage.models import Incident, IncidentEvent, Outbox, OutboxState, Reminder
from tests.e2e.conftest import BOT_USERNAME, McuProcess
from tests.e2e.emulator.harness import BotApiEmulator, Chat, User

pytestmark = pytest.mark.asyncio(loop_scope="module")

WAIT_S: Final = 30.0
SWEEP_S: Final = 1.0  # SCHEDULER_SWEEP_SECONDS of these processes (30 s in production)

# Staff ids come from storage/seed/directory.json.
HEAD_ID: Final = 1  # Волкова: head of «Дороги» and the curator
MCU_HEAD_ID: Final = 2  # Лобанова: the МЦУ head
HEAD = User(id=730001, first_name="Наталья", last_name="Волкова", username="volkova_nn")
MCU_HEAD = User(id=730002, first_name="Светлана", last_name="Лобанова", username="lobanova_sv")
STAFF_CHAT = Chat.supergroup(-1001000000071, "МЦУ: служебный чат")
CITIZEN_IDS = itertools.count(740001)
POTHOLE = "Огромная яма на дороге у дома 5 на ул. Ленина, машины бьют колёса"

# The default reminder points «50%, 2h, 0» and the escalation at the deadline, in due order.
PLAN: Final = [("reminder", "50%"), ("reminder", "2h"), ("reminder", "0"), ("escalation", "0")]
NOTICE_OF: Final = {
    ("reminder", "50%"): texts.NOTICE_REMINDER_HALF,
    ("reminder", "2h"): texts.NOTICE_REMINDER,
    ("reminder", "0"): texts.NOTICE_REMINDER_DUE,
    ("escalation", "0"): texts.NOTICE_ESCALATION,
}
EVENT_OF: Final = {"reminder": "reminder_sent", "escalation": "escalated"}
PROBLEM = re.compile(r" (ERROR|CRITICAL) |Traceback")


# ---------------------------------------------------------------------------------------------- helpers


def template_pattern(template: str, number: int) -> re.Pattern[str]:
    """The texts a template gives for incident `number`, whatever its other fields."""
    parts = re.split(r"(\{\w+\})", template)
    pattern = "".join(
        str(number) if part == "{number}" else ".*?" if re.fullmatch(r"\{\w+\}", part) else re.escape(part)
        for part in parts
    )
    return re.compile(pattern, re.DOTALL)


@contextmanager
def database(mcu: McuProcess) -> Iterator[Session]:
    """The process's own SQLite file, read (and, while it is down, changed) with the product's models."""
    engine = create_engine(f"sqlite:///{mcu.workdir / 'mcu.db'}", connect_args={"timeout": 10})
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def reminders_of(mcu: McuProcess, number: int) -> list[Reminder]:
    with database(mcu) as session:
        query = select(Reminder).where(Reminder.incident_id == number, col(Reminder.cancelled_at).is_(None))
        return list(session.exec(query.order_by(col(Reminder.due_at), col(Reminder.id))))


def shift_deadline_into_the_past(mcu: McuProcess, number: int) -> list[datetime]:
    """While the process is down: the deadline passed a minute ago, each unsent reminder as long before as planned."""
    assert mcu.process is None, "the database is changed only while the process is down"
    now = datetime.now(UTC)
    with database(mcu) as session:
        incident = session.get(Incident, number)
        assert incident is not None and incident.due_at is not None
        # The escalation (at the deadline) a minute ago; everything before it keeps its distance to it.
        shift = incident.due_at - now + timedelta(minutes=1)
        incident.due_at -= shift
        if incident.reaction_due_at is not None:
            incident.reaction_due_at -= shift
        session.add(incident)
        pending = session.exec(
            select(Reminder).where(Reminder.incident_id == number, col(Reminder.sent_at).is_(None))
        ).all()
        for reminder in pending:
            reminder.due_at -= shift
            session.add(reminder)
        session.commit()
        return sorted(r.due_at for r in pending)


async def restart(mcu: McuProcess, *args: str) -> None:
    """Start the process again on the same folder and database; return once its scheduler runs."""
    mark = len(mcu.log_text())
    mcu.start(*args)
    await mcu.wait_healthy()
    await mcu.wait_for_log("планировщик: напоминания проверяются", after=mark, timeout=WAIT_S)


async def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT_S} s: {what}")
        await asyncio.sleep(0.1)


def notice_intents(mcu: McuProcess, number: int) -> list[Outbox]:
    with database(mcu) as session:
        query = select(Outbox).where(Outbox.incident_id == number, col(Outbox.kind).in_(["reminder", "escalation"]))
        return list(session.exec(query.order_by(col(Outbox.id))))


def all_delivered(mcu: McuProcess, number: int) -> bool:
    intents = notice_intents(mcu, number)
    return bool(intents) and all(item.state == OutboxState.SENT for item in intents)


async def notices(emu: BotApiEmulator, chat_id: int, number: int) -> list[tuple[str, str]]:
    """The reminders and escalations of incident `number` the bot sent to `chat_id`, in the order they came."""
    patterns = {key: template_pattern(template, number) for key, template in NOTICE_OF.items()}
    found = []
    for message in await emu.bot_messages(chat_id):
        text = message.get("text") or ""
        found += [key for key, pattern in patterns.items() if pattern.fullmatch(text)]
    return found


async def wait_notices(emu: BotApiEmulator, expected: dict[int, list[tuple[str, str]]], number: int) -> None:
    """Until every chat has at least as many notices as expected (the assertions that follow say if too many)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        got = {chat_id: await notices(emu, chat_id, number) for chat_id in expected}
        if all(len(got[chat_id]) >= len(keys) for chat_id, keys in expected.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the notices did not all arrive within {WAIT_S} s: {got}")
        await asyncio.sleep(0.1)


def expected_notices() -> dict[int, list[tuple[str, str]]]:
    """Reminders to the assignee; the escalation to the curator (the same head), the МЦУ head and the staff chat."""
    return {HEAD.id: PLAN, MCU_HEAD.id: [("escalation", "0")], STAFF_CHAT.id: [("escalation", "0")]}


def assert_sent_once_in_order(mcu: McuProcess, number: int) -> None:
    """The database agrees: every reminder row sent once, the timeline has each once, in due order."""
    rows = reminders_of(mcu, number)
    assert [(r.kind, r.point) for r in rows] == PLAN
    assert all(r.sent_at is not None for r in rows), [(r.kind, r.point, r.sent_at) for r in rows]
    with database(mcu) as session:
        events = session.exec(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == number, col(IncidentEvent.kind).in_(EVENT_OF.values()))
            .order_by(col(IncidentEvent.id))
        ).all()
    outbox = notice_intents(mcu, number)
    assert [(e.kind, e.data["point"]) for e in events] == [(EVENT_OF[kind], point) for kind, point in PLAN]
    # Four intents to the head, one to the МЦУ head and one to the staff chat; all delivered.
    assert len(outbox) == 6 and all(item.state == OutboxState.SENT for item in outbox), [
        (item.id, item.kind, item.chat_id, item.state) for item in outbox
    ]


async def assert_notices(emu: BotApiEmulator, number: int) -> None:
    for chat_id, keys in expected_notices().items():
        assert await notices(emu, chat_id, number) == keys, f"chat {chat_id}"


# ---------------------------------------------------------------------------------------------- fixtures


@dataclass
class Pending:
    """A running process, its staff linked, and one incident carded to the head, its reminders all ahead."""

    emu: BotApiEmulator
    mcu: McuProcess
    number: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mcu(bot_api: BotApiEmulator, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[McuProcess]:
    """This module's own process (its tests kill and restart it), sweeping for reminders every second.

    The head and the МЦУ head are linked by their invite links; the staff chat is set.
    """
    process = McuProcess.create(tmp_path_factory.mktemp("mcu"), bot_api, {"SCHEDULER_SWEEP_SECONDS": str(SWEEP_S)})
    process.start()
    try:
        await process.wait_healthy()
        for staff_id, user in ((HEAD_ID, HEAD), (MCU_HEAD_ID, MCU_HEAD)):
            invite = (await process.cli("staff", "invite", str(staff_id))).strip()
            prefix = f"https://t.me/{BOT_USERNAME}?start="
            assert invite.startswith(prefix), invite
            await bot_api.send_private(user, "/start " + invite.removeprefix(prefix))
            await bot_api.wait_for_bot_message(user.id, contains="Готово: вы подключены", timeout=WAIT_S)
        await bot_api.register_chat(STAFF_CHAT)
        await process.cli("chats", "staff", str(STAFF_CHAT.id))
        yield process
    finally:
        await asyncio.to_thread(process.stop)


@pytest_asyncio.fixture(loop_scope="module")
async def pending(bot_api: BotApiEmulator, mcu: McuProcess) -> Pending:
    """A new citizen's pothole, carded to the head of «Дороги»; its reminders planned and not yet due."""
    if mcu.process is None:  # an earlier test failed with the process down
        mcu.start()
        await mcu.wait_healthy()
    citizen = User(id=next(CITIZEN_IDS), first_name="Иван", last_name="Петров")
    await bot_api.send_private(citizen, POTHOLE)
    ack = await bot_api.wait_for_bot_message(citizen.id, contains="зарегистрировано под номером", timeout=WAIT_S)
    found = re.search(r"под номером (\d+)\.", ack["text"])
    assert found is not None, ack["text"]
    number = int(found.group(1))
    card_title = f"<b>{texts.CARD_TITLE.format(number=number)}</b>"
    card = await bot_api.wait_for_bot_message(
        HEAD.id, lambda m: (m.get("text") or "").startswith(card_title), timeout=WAIT_S
    )
    assert texts.CARD_SECTOR.format(sector="Дороги") in card["text"]

    rows = reminders_of(mcu, number)
    assert [(r.kind, r.point) for r in rows] == PLAN
    now = datetime.now(UTC)
    assert all(r.sent_at is None and r.due_at > now for r in rows), [(r.kind, r.point, r.due_at) for r in rows]
    return Pending(bot_api, mcu, number)


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def nothing_went_wrong(bot_api: BotApiEmulator, mcu: McuProcess) -> AsyncIterator[None]:
    """After each test: no errors logged by any run of the process, no Bot API method the emulator lacks."""
    start = len(mcu.log_text())
    yield
    problems = [line for line in mcu.log_text()[start:].splitlines() if PROBLEM.search(line)]
    assert not problems, "`mcu run` logged problems:\n" + "\n".join(problems)
    assert not await bot_api.unsupported_calls()


# ---------------------------------------------------------------------------------------------- tests


async def test_reminders_due_while_killed_are_sent_once_after_restart(pending: Pending) -> None:
    emu, mcu, number = pending.emu, pending.mcu, pending.number
    await asyncio.sleep(1.5 * SWEEP_S)  # a sweep ran and found nothing due
    assert all(r.sent_at is None for r in reminders_of(mcu, number))
    assert [await notices(emu, chat_id, number) for chat_id in expected_notices()] == [[], [], []]

    assert mcu.kill() == -9
    due = shift_deadline_into_the_past(mcu, number)
    assert len(due) == len(PLAN) and due[-1] < datetime.now(UTC)
    await restart(mcu)

    await wait_notices(emu, expected_notices(), number)
    await wait_until("the intents are marked delivered", lambda: all_delivered(mcu, number))
    await asyncio.sleep(2 * SWEEP_S)  # and nothing more comes
    await assert_notices(emu, number)
    assert_sent_once_in_order(mcu, number)

    # Killed again as soon as all was delivered (and recorded so), and back: nothing is sent a second time.
    sent_before = len(await emu.calls("sendMessage"))
    mark = len(mcu.log_text())
    assert mcu.kill() == -9
    await restart(mcu)
    await asyncio.sleep(2.5 * SWEEP_S)  # the sweep at start and two more
    assert len(await emu.calls("sendMessage")) == sent_before
    await assert_notices(emu, number)
    assert_sent_once_in_order(mcu, number)
    assert "reminders and escalations" not in mcu.log_text()[mark:]


async def test_reminders_queued_but_not_delivered_when_killed_are_delivered_once(pending: Pending) -> None:
    emu, mcu, number = pending.emu, pending.mcu, pending.number
    assert mcu.kill() == -9
    shift_deadline_into_the_past(mcu, number)

    # Only the scheduler (and the admin server): the sweep queues the notices, nobody delivers them.
    await restart(mcu, "--only", "scheduler,admin")
    await wait_until("the sweep marks the reminders sent", lambda: all(r.sent_at for r in reminders_of(mcu, number)))
    queued = notice_intents(mcu, number)
    assert len(queued) == 6 and all(item.state == OutboxState.PENDING for item in queued)
    assert [await notices(emu, chat_id, number) for chat_id in expected_notices()] == [[], [], []]

    # Killed with the notices queued; the full process delivers each once, and the sweep queues none again.
    assert mcu.kill() == -9
    await restart(mcu)
    await wait_notices(emu, expected_notices(), number)
    await wait_until("the intents are marked delivered", lambda: all_delivered(mcu, number))
    await asyncio.sleep(2 * SWEEP_S)
    await assert_notices(emu, number)
    assert_sent_once_in_order(mcu, number)
