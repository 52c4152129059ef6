"""End-to-end: the real `mcu run` process with citizens on a fake VK API and staff in the Telegram emulator."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from html import escape
from typing import Any, Final

import pytest
import pytest_asyncio

from bot.telegram import texts
from bot.vk import texts as vk_texts
from handlers.vocab import SOURCE_KIND_TITLES
from tests.e2e.conftest import BOT_USERNAME, AdminApi, McuProcess
from tests.e2e.emulator.harness import BotApiEmulator, Chat
from tests.e2e.test_telegram_loop import (
    HEAD,
    HEAD_ID,
    OFFICER,
    OFFICER_ID,
    PROBLEM,
    STAFF_CHAT,
    WAIT_S,
    answer_by_card,
    cards_of,
    wait_card,
)
from tests.vk_fake import API_VERSION, Call, FakeVk

pytestmark = pytest.mark.asyncio(loop_scope="module")

GROUP: Final = 210000001  # the administration's community
PAGE: Final = 4200001  # the head of district's own page
COMMUNITY_NAME: Final = "Администрация Троснянского района"
# How cards and notices name the community: the product takes its name from VK.
COMMUNITY_SOURCE: Final = f"{SOURCE_KIND_TITLES['vk_community']} «{COMMUNITY_NAME}»"
COMMUNITY_TOKEN: Final = "e2e-community-token"
USER_TOKEN: Final = "e2e-user-token"
ADMIN_LOGIN: Final = "e2e-vk-admin"
ADMIN_PASSWORD: Final = "e2e-vk-admin-password"
ACK_NUMBER: Final = re.compile(r"под номером (\d+)\.")
# Each citizen is a new VK user: one person's second comment in a thread would be a follow-up, not an incident.
_citizen_ids = itertools.count(5_000_001)


@dataclass
class World:
    """The running product with the head and the officer linked, an admin logged in, and the fake VK behind it."""

    emu: BotApiEmulator
    vk: FakeVk
    mcu: McuProcess
    api: AdminApi


@dataclass
class Tolerated:
    """What a test provokes on purpose: log lines (by fragment) and VK error codes that are no failure there."""

    log: list[str] = field(default_factory=list)
    vk_errors: set[int] = field(default_factory=set)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake_vk() -> AsyncIterator[FakeVk]:
    """The fake VK API, served by this module's event loop; the product reaches it over HTTP."""
    async with FakeVk() as fake:
        fake.add_community(GROUP, COMMUNITY_NAME, "trosna_adm", COMMUNITY_TOKEN)
        fake.add_user(PAGE, "Александр", "Насонов", USER_TOKEN)
        yield fake


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def mcu(
    bot_api: BotApiEmulator, fake_vk: FakeVk, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[McuProcess]:
    """`mcu run` with the community (Bots Long Poll) and the head's page (polled each second) on the fake VK."""
    vk_env = {
        "VK_API_BASE": fake_vk.base_url,
        "VK_COMMUNITY_ID": str(GROUP),
        "VK_COMMUNITY_TOKEN": COMMUNITY_TOKEN,
        "VK_USER_TOKEN": USER_TOKEN,
        "VK_PAGE_ID": str(PAGE),
        "VK_POLL_SECONDS": "1",
        "VK_LONGPOLL_WAIT": "1",
    }
    process = McuProcess.create(tmp_path_factory.mktemp("mcu-vk"), bot_api, vk_env)
    process.start()
    try:
        await process.wait_healthy()
        # The first start reads the community from the position getLongPollServer gives: later events are read.
        await fake_vk.wait_for_call("groups.getLongPollServer", timeout=WAIT_S)
        yield process
    finally:
        # In a thread: this loop must keep serving the fake VK while the process finishes its calls and stops.
        await asyncio.to_thread(process.stop)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(bot_api: BotApiEmulator, fake_vk: FakeVk, mcu: McuProcess) -> AsyncIterator[World]:
    """Link the head and the officer by their invite links and log in to the admin API."""
    officer_link, head_link, _ = await asyncio.gather(
        mcu.cli("staff", "invite", str(OFFICER_ID)),
        mcu.cli("staff", "invite", str(HEAD_ID)),
        mcu.cli("users", "create", ADMIN_LOGIN, "--role", "admin", stdin=ADMIN_PASSWORD + "\n"),
    )
    prefix = f"https://t.me/{BOT_USERNAME}?start="
    for user, link in ((OFFICER, officer_link), (HEAD, head_link)):
        assert link.strip().startswith(prefix), link
        await bot_api.send_private(user, "/start " + link.strip().removeprefix(prefix))
        await bot_api.wait_for_bot_message(user.id, contains="Готово: вы подключены", timeout=WAIT_S)
    api = await AdminApi.log_in(mcu.admin_url, ADMIN_LOGIN, ADMIN_PASSWORD)
    yield World(bot_api, fake_vk, mcu, api)


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def tolerated(bot_api: BotApiEmulator, fake_vk: FakeVk, mcu: McuProcess) -> AsyncIterator[Tolerated]:
    """After each test: no errors logged, no Bot API method the emulator lacks, no VK error, VK's rate kept."""
    log_start, calls_start, violations = len(mcu.log_text()), len(fake_vk.calls), fake_vk.rate_violations
    allowed = Tolerated()
    yield allowed
    lines = mcu.log_text()[log_start:].splitlines()
    problems = [ln for ln in lines if PROBLEM.search(ln) and not any(f in ln for f in allowed.log)]
    assert not problems, "`mcu run` logged problems:\n" + "\n".join(problems)
    assert not await bot_api.unsupported_calls()
    refused = [c for c in fake_vk.calls[calls_start:] if c.error_code not in (None, *allowed.vk_errors)]
    assert not refused, f"VK refused calls: {refused}"
    assert fake_vk.rate_violations == violations, "the product exceeded VK's request rate"


# ---------------------------------------------------------------------------------------------- helpers


def new_citizen(fake: FakeVk, first_name: str, last_name: str) -> int:
    citizen = next(_citizen_ids)
    fake.add_user(citizen, first_name, last_name)
    return citizen


def comment_link(owner_id: int, post_id: int, comment_id: int) -> str:
    return f"https://vk.com/wall{owner_id}_{post_id}?reply={comment_id}"


async def wait_incidents(api: AdminApi, permalinks: Iterable[str], timeout: float = WAIT_S) -> dict[str, list[Any]]:
    """All incidents grouped by permalink, once each of `permalinks` has at least one."""
    wanted = set(permalinks)
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list[Any]] = {}
        for item in (await api.incidents())["items"]:
            found.setdefault(item["permalink"], []).append(item)
        missing = wanted - found.keys()
        if not missing:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no incident within {timeout} s for {sorted(missing)}")
        await asyncio.sleep(0.2)


async def wait_incident(api: AdminApi, permalink: str) -> dict[str, Any]:
    [incident] = (await wait_incidents(api, [permalink]))[permalink]
    return dict(incident)


def owner_is(owner_id: int) -> Callable[[Call], bool]:
    # Inside `execute` the fake logs JSON values, in a plain call form strings: compare as text.
    return lambda call: str(call.params.get("owner_id")) == str(owner_id)


async def next_poll_round_done(fake: FakeVk, since: int) -> None:
    """Wait until a round of page polling that started after call `since` has finished (the next one began)."""
    read = await fake.wait_for_call("wall.getComments", owner_is(PAGE), since=since, timeout=WAIT_S)
    await fake.wait_for_call("wall.get", owner_is(PAGE), since=fake.calls.index(read), timeout=WAIT_S)


def published(call: Call) -> dict[str, Any]:
    """The call's parameters without the one every call carries."""
    params = dict(call.params)
    assert params.pop("v") == API_VERSION
    return params


# ---------------------------------------------------------------------------------------------- tests


async def test_community_wall_comment_is_answered_under_it(world: World) -> None:
    emu, fake = world.emu, world.vk
    citizen = new_citizen(fake, "Иван", "Петров")
    post = fake.add_post(-GROUP, "График ремонта дорог на ноябрь")
    question = "На улице Ленина у дома 5 яма на дороге <уже месяц> & никто не ремонтирует"

    comment = fake.add_comment(-GROUP, post, citizen, question)

    permalink = f"https://vk.com/wall-{GROUP}_{post}?reply={comment}"
    incident = await wait_incident(world.api, permalink)
    number = incident["id"]
    card = await wait_card(emu, HEAD.id, number)
    text = card["text"]
    link = f'<a href="{permalink}">{texts.CARD_OPEN_ORIGINAL}</a>'
    assert texts.CARD_SOURCE.format(source=f"{COMMUNITY_SOURCE} · {link}") in text
    assert texts.CARD_SECTOR.format(sector="Дороги") in text
    assert texts.CARD_AUTHOR.format(author="Иван Петров") in text
    assert f"<blockquote>{escape(question)}</blockquote>" in text

    since = len(fake.calls)
    answer = "Яму у дома 5 засыплют до пятницы. Спасибо, что написали!"
    await answer_by_card(emu, HEAD, Chat.private(HEAD), card, number, answer)

    call = await fake.wait_for_call("wall.createComment", since=since, timeout=WAIT_S)
    assert call.token == COMMUNITY_TOKEN and call.error_code is None
    assert published(call) == {
        "owner_id": str(-GROUP),
        "post_id": str(post),
        "message": answer,
        "reply_to_comment": str(comment),
        "from_group": str(GROUP),
    }
    await wait_card(emu, HEAD.id, number, texts.CARD_STATUS.format(status="дан ответ"), "— опубликован")
    # No robot acknowledgement under a public comment: the community wrote the answer and nothing else.
    ours = [c for c in fake.comments(-GROUP, post) if c["from_id"] == -GROUP]
    assert [(c["text"], c["reply_to_comment"]) for c in ours] == [(answer, comment)]
    detail = await world.api.incident(number)
    assert detail["status"] == "answered" and detail["source_kind"] == "vk_community"
    assert detail["text"] == question and detail["author_name"] == "Иван Петров"
    assert detail["last_reply"]["state"] == "published"


async def test_community_message_is_acknowledged_and_answered_in_the_dialog(world: World) -> None:
    emu, fake = world.emu, world.vk
    citizen = new_citizen(fake, "Мария", "Смирнова")
    question = "Нет воды в доме 12 на улице Мира с самого утра"

    message = fake.send_to_community(GROUP, citizen, question)

    ack = await fake.wait_for_call("messages.send", lambda c: c.params.get("peer_id") == str(citizen), timeout=WAIT_S)
    found = ACK_NUMBER.search(ack.params["message"])
    assert found is not None, ack.params
    number = int(found.group(1))
    assert ack.params["message"] == vk_texts.ACK.format(number=number)
    assert ack.token == COMMUNITY_TOKEN and ack.error_code is None
    incident = await wait_incident(world.api, f"https://vk.com/gim{GROUP}?sel={citizen}")
    assert incident["id"] == number and incident["text"] == question
    card = await wait_card(emu, HEAD.id, number, texts.CARD_SECTOR.format(sector="Жилищно-коммунальное хозяйство"))

    since = len(fake.calls)
    answer = "Авария на водоводе устранена, вода будет к 15:00."
    await answer_by_card(emu, HEAD, Chat.private(HEAD), card, number, answer)

    call = await fake.wait_for_call("messages.send", since=since, timeout=WAIT_S)
    assert call.error_code is None
    params = published(call)
    assert params.pop("random_id")
    assert params == {"peer_id": str(citizen), "message": answer, "reply_to": str(message["id"])}
    sent = fake.sent_messages(GROUP, citizen)
    assert [m["text"] for m in sent] == [vk_texts.ACK.format(number=number), answer]
    assert sent[1]["reply_message"]["id"] == message["id"]
    await wait_card(emu, HEAD.id, number, texts.CARD_STATUS.format(status="дан ответ"), "— опубликован")


async def test_head_page_comment_is_answered_as_the_head(world: World) -> None:
    emu, fake = world.emu, world.vk
    citizen = new_citizen(fake, "Пётр", "Иванов")
    post = fake.add_post(PAGE, "Встретился с жителями Ломовца")
    question = "Когда отремонтируют дорогу к мосту через Сосну?"

    comment = fake.add_comment(PAGE, post, citizen, question)

    permalink = comment_link(PAGE, post, comment)
    number = (await wait_incident(world.api, permalink))["id"]
    card = await wait_card(
        emu, HEAD.id, number, f'<a href="{permalink}">', texts.CARD_AUTHOR.format(author="Пётр Иванов")
    )
    assert SOURCE_KIND_TITLES["vk_user_page"] in card["text"]

    since = len(fake.calls)
    answer = "Ремонт дороги к мосту начнётся в мае, подрядчик уже выбран."
    await answer_by_card(emu, HEAD, Chat.private(HEAD), card, number, answer)

    call = await fake.wait_for_call("wall.createComment", since=since, timeout=WAIT_S)
    assert call.token == USER_TOKEN and call.error_code is None
    assert published(call) == {
        "owner_id": str(PAGE),
        "post_id": str(post),
        "message": answer,
        "reply_to_comment": str(comment),
    }
    [reply] = [c for c in fake.comments(PAGE, post) if c["text"] == answer]
    assert reply["from_id"] == PAGE
    await wait_card(emu, HEAD.id, number, texts.CARD_STATUS.format(status="дан ответ"), "— опубликован")
    # The head's own answer is on the page now, where the poller reads: it is no citizen's comment.
    await next_poll_round_done(fake, fake.calls.index(call))
    source_id = (await world.api.incident(number))["source_id"]
    from_page = [i for i in (await world.api.incidents())["items"] if i["source_id"] == source_id]
    assert [i["id"] for i in from_page] == [number]


async def test_restart_while_polling_loses_nothing_and_doubles_nothing(world: World) -> None:
    emu, fake, mcu, api = world.emu, world.vk, world.mcu, world.api
    known = {i["id"] for i in (await api.incidents())["items"]}
    post = fake.add_post(-GROUP, "Ремонт дорог: план на неделю")
    page_post = fake.add_post(PAGE, "Приём граждан в пятницу")
    written: list[str] = []

    def on_community(text: str) -> str:
        comment = fake.add_comment(-GROUP, post, new_citizen(fake, "Житель", "Сообщества"), text)
        written.append(comment_link(-GROUP, post, comment))
        return written[-1]

    def on_page(text: str) -> str:
        comment = fake.add_comment(PAGE, page_post, new_citizen(fake, "Житель", "Страницы"), text)
        written.append(comment_link(PAGE, page_post, comment))
        return written[-1]

    on_community("Во дворе дома 3 по улице Мира яма на дороге")
    on_page("На дороге в Жерновцы сняли асфальт и бросили")
    await wait_incidents(api, written)
    graceful = len(written)

    # The stop comes in the middle of a round of page polling: VK answers it only after the process began stopping.
    since = len(fake.calls)
    fake.delay("wall.get", 7.0)
    await fake.wait_for_call("wall.get", owner_is(PAGE), since=since, timeout=WAIT_S)
    assert await asyncio.to_thread(mcu.stop) == 0
    on_community("Грейдер не приезжал на улицу Садовую, дорогу размыло")
    on_community("Яма на дороге у поворота к Сомово")
    on_page("Обочина на трассе у Сомово разбита тракторами")
    mcu.start()
    await mcu.wait_healthy()
    await wait_incidents(api, written)

    # A hard kill as soon as the first of two new comments is in: the rest may be mid-way, or not read yet.
    first = on_community("Тротуар у почты провалился, дорогу перекопали")
    on_page("Кювет у дороги на Ломовец засыпан, вода стоит")
    await wait_incidents(api, [first])
    assert mcu.process is not None
    mcu.process.kill()
    assert await asyncio.to_thread(mcu.stop) == -9
    on_community("Мост через Сосну: дорога перед ним в ямах")
    on_page("На дороге у фермы нет разметки и освещения")
    mcu.start()
    await mcu.wait_healthy()
    found = await wait_incidents(api, written)

    assert {link: len(found[link]) for link in written} == dict.fromkeys(written, 1)
    new = {i["id"] for items in found.values() for i in items} - known
    assert len(new) == len(written), "incidents that no comment of this test explains"
    numbers = [found[link][0]["id"] for link in written]
    for number in numbers:
        await wait_card(emu, HEAD.id, number)
    # Delivery is at least once: a hard kill can fall between sending a card and noting it sent. A clean stop
    # gives the worker time to finish, so what came before it has exactly one card.
    assert [len(await cards_of(emu, HEAD.id, n)) for n in numbers[:graceful]] == [1] * graceful


async def test_revoked_community_token_stops_that_source_only(world: World, tolerated: Tolerated) -> None:
    emu, fake, api = world.emu, world.vk, world.api
    await emu.send_group(STAFF_CHAT, OFFICER, "/staffchat")
    await emu.wait_for_bot_message(STAFF_CHAT.id, text=texts.STAFF_CHAT_SET, timeout=WAIT_S)
    tolerated.vk_errors.add(5)
    tolerated.log.append(f"(vk_community {GROUP}) stopped: [5]")

    fake.revoke_token(COMMUNITY_TOKEN)
    # The fake's long poll server checks no tokens. Its key is expired here, as VK's keys expire sooner or later:
    # asking for a new one (groups.getLongPollServer) is where the product meets the revoked token.
    fake.lp_fail(GROUP, 2)

    reason = "[5] User authorization failed: invalid session."
    notice = texts.NOTICE_SOURCE_FAILED.format(source=escape(COMMUNITY_SOURCE), error=escape(reason))
    await emu.wait_for_bot_message(STAFF_CHAT.id, text=notice, timeout=WAIT_S)
    post = fake.add_post(-GROUP, "Объявление о собрании")
    unread = fake.add_comment(-GROUP, post, new_citizen(fake, "Анна", "Котова"), "Дорогу к клубу не чистят")
    page_post = fake.add_post(PAGE, "Итоги недели")
    page_citizen = new_citizen(fake, "Олег", "Сидоров")
    comment = fake.add_comment(PAGE, page_post, page_citizen, "Яма на дороге у остановки в Тросне")

    permalink = comment_link(PAGE, page_post, comment)
    found = await wait_incidents(api, [permalink])

    [incident] = found[permalink]
    await wait_card(emu, HEAD.id, incident["id"], texts.CARD_SECTOR.format(sector="Дороги"))
    await wait_card(emu, STAFF_CHAT.id, incident["id"])
    assert comment_link(-GROUP, post, unread) not in found
