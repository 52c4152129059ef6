"""The VK adapter against the fake VK API over HTTP: client retries, long poll, wall polling and publishing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ratelimit import vk_limiter
from bot.vk.client import VkClient, VkError, VkUnavailable
from bot.vk.delivery import VkClients, VkSender
from bot.vk.intake import NameCache, VkIntake
from bot.vk.longpoll import TS_KEY, LongPoll
from bot.vk.poller import WallPoller
from bot.worker import OutboxWorker
from handlers import outbox
from handlers.directory import set_staff_chat
from handlers.incidents import answer_incident
from handlers.sources import get_cursor, register_vk_source
from storage.db import SessionPool
from storage.models import Incident, IncidentMessage, Outbox, OutboxState, Reply, Source, SourceKind, Staff
from tests.conftest import Clock
from tests.vk_fake import FakeVk

GROUP = 777
HEAD_PAGE = 42
PUBLIC = -555
COMMUNITY_TOKEN = "community-token"
USER_TOKEN = "user-token"
CITIZEN = 1001


@pytest.fixture
async def fake() -> AsyncIterator[FakeVk]:
    async with FakeVk(max_wait=0.2) as fake:
        fake.add_community(GROUP, "Администрация Троснянского района", "trosna_adm", COMMUNITY_TOKEN)
        fake.add_community(-PUBLIC, "Тросна онлайн", "trosna_online", None)
        fake.add_user(HEAD_PAGE, "Александр", "Насонов", USER_TOKEN)
        fake.add_user(CITIZEN, "Анна", "Котова")
        fake.add_user(1002, "Пётр", "Иванов")
        yield fake


def community(fake: FakeVk) -> VkClient:
    return VkClient(COMMUNITY_TOKEN, api_base=fake.base_url, group=True, sleep=0.01)


def user(fake: FakeVk) -> VkClient:
    return VkClient(USER_TOKEN, api_base=fake.base_url, group=False, sleep=0.01)


def intake_for(fake: FakeVk, session_pool: SessionPool, clock: Clock) -> VkIntake:
    return VkIntake(session_pool=session_pool, clock=clock, wakeup=lambda: None, names=NameCache(community(fake)))


async def incidents(session: AsyncSession) -> list[Incident]:
    session.expunge_all()
    return list(await session.exec(select(Incident).order_by(col(Incident.id))))


async def test_client_retries_what_is_worth_it_and_stops_on_what_is_not(fake: FakeVk) -> None:
    client = community(fake)
    fake.fail_http("groups.getById", 502)
    fake.fail("groups.getById", 10)
    answer = await client.call("groups.getById", group_id=GROUP)
    assert answer["groups"][0]["id"] == GROUP
    fake.fail("groups.getById", 100, msg="One of the parameters specified was missing or invalid")
    with pytest.raises(VkError) as invalid:
        await client.call("groups.getById", group_id=GROUP)
    assert invalid.value.code == 100 and not invalid.value.fatal
    fake.fail_http("groups.getById", 500, times=10)
    with pytest.raises(VkUnavailable):
        await client.call("groups.getById", group_id=GROUP)
    fake.revoke_token(COMMUNITY_TOKEN)
    with pytest.raises(VkError) as revoked:
        await client.call("groups.getById", group_id=GROUP)
    assert revoked.value.code == 5 and revoked.value.fatal


async def test_execute_batches_by_25(fake: FakeVk) -> None:
    post = fake.add_post(HEAD_PAGE, "Пост", from_id=HEAD_PAGE)
    fake.add_comment(HEAD_PAGE, post, CITIZEN, "Комментарий")
    calls = [("wall.getComments", {"owner_id": HEAD_PAGE, "post_id": post})] * 30
    results = await user(fake).execute(calls)
    assert len(results) == 30 and results[0]["items"][0]["text"] == "Комментарий"
    assert len([c for c in fake.calls_of("execute") if not c.in_execute]) == 2


async def test_long_poll_turns_events_into_incidents_and_resumes_after_restart(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    source = await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP)
    longpoll = LongPoll(
        client=community(fake), intake=intake_for(fake, session_pool, clock), session_pool=session_pool,
        clock=clock, source_id=source.id or 0, group_id=GROUP, wait=1,
    )  # fmt: skip
    post = fake.add_post(-GROUP, "Новости района", from_id=-GROUP)
    task = asyncio.create_task(longpoll.run())
    try:
        # The very first start reads from "now", as VK gives it: write once the poll is listening.
        await fake.wait_for_call("groups.getLongPollServer")
        first = fake.add_comment(-GROUP, post, CITIZEN, "Яма на дороге у моста")
        fake.send_to_community(GROUP, 1002, "Когда починят освещение?")
        fake.lp_fail(GROUP, 2)  # the key expires: the loop must fetch a new one and go on
        fake.add_comment(-GROUP, post, 1002, "[id1001|Анна], поддерживаю")
        await wait_for(session, 3)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    saved_ts = await get_cursor(session, source_id=source.id or 0, key=TS_KEY)
    assert saved_ts is not None

    # While the process is down: two more comments; then it starts again from the saved ts.
    fake.add_comment(-GROUP, post, CITIZEN, "Ещё и лужа там же")
    fake.add_comment(-GROUP, post, 1003, "Нет света на Садовой")
    task = asyncio.create_task(longpoll.run())
    try:
        await wait_for(session, 4)
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    rows = await incidents(session)
    assert [r.sector_code for r in rows] == ["roads", "improvement", None, "energy"]  # the third waits in triage
    assert rows[2].text == "Анна, поддерживаю"
    assert rows[0].permalink == f"https://vk.com/wall-{GROUP}_{post}?reply={first}"
    # The citizen's second comment under the same post is a follow-up of the open incident.
    messages = list(await session.exec(select(IncidentMessage).where(IncidentMessage.incident_id == rows[0].id)))
    assert [m.text for m in messages] == ["Яма на дороге у моста", "Ещё и лужа там же"]
    names = {r.text: r.author_id for r in rows}
    assert len(names) == 4


async def wait_for(session: AsyncSession, count: int, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        session.expunge_all()
        have = (await session.exec(select(func.count()).select_from(Incident))).one()
        if have >= count:
            assert have == count
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{have} incidents, expected {count}")
        await asyncio.sleep(0.05)


async def test_revoked_token_stops_the_long_poll_with_a_notice(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await set_staff_chat(session, staff=None, chat_id=-100500)
    source = await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP)
    fake.revoke_token(COMMUNITY_TOKEN)
    longpoll = LongPoll(
        client=community(fake), intake=intake_for(fake, session_pool, clock), session_pool=session_pool,
        clock=clock, source_id=source.id or 0, group_id=GROUP, wait=1,
    )  # fmt: skip
    await asyncio.wait_for(longpoll.run(), timeout=5)
    session.expunge_all()
    stopped = await session.get(Source, source.id)
    assert stopped is not None and stopped.error is not None and "[5]" in stopped.error
    notice = (await session.exec(select(Outbox).where(Outbox.kind == outbox.SOURCE_FAILED))).one()
    assert notice.chat_id == "-100500"


async def test_wall_poller_reads_new_comments_once_and_filters_publics(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=HEAD_PAGE, title="Глава района")
    await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=PUBLIC, keywords="тросн")
    page_post = fake.add_post(HEAD_PAGE, "Итоги недели", from_id=HEAD_PAGE)
    public_post = fake.add_post(PUBLIC, "Новости области", from_id=PUBLIC)
    first = fake.add_comment(HEAD_PAGE, page_post, CITIZEN, "Спасибо, а когда отремонтируют дорогу?")
    fake.add_comment(PUBLIC, public_post, 1002, "В Орле пробки")
    fake.add_comment(PUBLIC, public_post, 1002, "В Тросне третий день нет воды")
    poller = WallPoller(client=user(fake), intake=intake_for(fake, session_pool, clock), session_pool=session_pool,
                        clock=clock)  # fmt: skip

    assert await poller.poll_all() == 2
    assert await poller.poll_all() == 0
    fake.add_comment(HEAD_PAGE, page_post, 1002, "Ответьте про школьный автобус", reply_to_comment=first)
    assert await poller.poll_all() == 1

    rows = await incidents(session)
    assert [(r.sector_code, r.chat_ref) for r in rows] == [
        ("roads", f"wall{HEAD_PAGE}_{page_post}"),
        ("zhkh", f"wall{PUBLIC}_{public_post}"),
        ("transport", f"wall{HEAD_PAGE}_{page_post}"),
    ]
    # Every round is one wall.get and one execute per source, within the user token's 3 requests a second.
    assert fake.rate_violations == 0


async def test_poller_skips_a_failing_source_and_stops_a_forbidden_one(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    page = await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=HEAD_PAGE)
    public = await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=PUBLIC)
    fake.add_comment(HEAD_PAGE, fake.add_post(HEAD_PAGE, "Пост", from_id=HEAD_PAGE), CITIZEN, "Яма на дороге")
    poller = WallPoller(client=user(fake), intake=intake_for(fake, session_pool, clock), session_pool=session_pool,
                        clock=clock)  # fmt: skip
    fake.fail("wall.get", 15, msg="Access denied: wall is disabled")
    assert await poller.poll_all() == 0  # the page is refused; the public has nothing new
    fake.fail_http("wall.get", 500, times=6)
    assert await poller.poll_all() == 0  # VK is down for the public: skipped this round, not stopped
    session.expunge_all()
    stopped, unavailable = await session.get(Source, page.id), await session.get(Source, public.id)
    assert stopped is not None and stopped.error is not None and "[15]" in stopped.error
    assert unavailable is not None and unavailable.error is None


async def test_answers_are_published_where_the_citizen_wrote(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP)
    await register_vk_source(session, kind=SourceKind.VK_USER_PAGE, owner_id=HEAD_PAGE)
    intake = intake_for(fake, session_pool, clock)
    post = fake.add_post(-GROUP, "Новости", from_id=-GROUP)
    comment = fake.add_comment(-GROUP, post, CITIZEN, "Яма на дороге")
    message = fake.send_to_community(GROUP, 1002, "Нет света третий день")
    page_post = fake.add_post(HEAD_PAGE, "Пост", from_id=HEAD_PAGE)
    page_comment = fake.add_comment(HEAD_PAGE, page_post, 1003, "Когда будет автобус?")
    for event in fake.events(GROUP):
        await intake.handle_event(dict(event))
    await WallPoller(client=user(fake), intake=intake, session_pool=session_pool, clock=clock).poll_all()
    officer = await session.get(Staff, 3)
    assert officer is not None
    for number, text in ((1, "Засыплем до пятницы."), (2, "Свет дадут сегодня."), (3, "Автобус с понедельника.")):
        await answer_incident(session, incident_id=number, staff=officer, text=text, now=clock())
    worker = OutboxWorker(
        session_pool=session_pool,
        sender=VkSender(VkClients(community=community(fake), user=user(fake), community_id=GROUP)),
        limiter=vk_limiter(clock=lambda: clock().timestamp()),
        clock=clock,
    )
    for _ in range(4):
        clock.advance(seconds=2)
        await worker.tick()

    wall = [c for c in fake.calls_of("wall.createComment") if c.error_code is None]
    by_owner = {int(c.params["owner_id"]): c for c in wall}
    assert by_owner[-GROUP].params["reply_to_comment"] == str(comment)
    assert by_owner[-GROUP].params["from_group"] == str(GROUP) and by_owner[-GROUP].token == COMMUNITY_TOKEN
    assert by_owner[-GROUP].params["message"] == "Засыплем до пятницы."
    assert by_owner[HEAD_PAGE].params["reply_to_comment"] == str(page_comment)
    assert "from_group" not in by_owner[HEAD_PAGE].params and by_owner[HEAD_PAGE].token == USER_TOKEN
    sent = [m for m in fake.sent_messages(GROUP, peer_id=1002)]
    assert [m["text"] for m in sent][-1] == "Свет дадут сегодня."
    assert "зарегистрировано под номером 2" in sent[0]["text"]
    assert sent[-1]["reply_message"]["id"] == message["id"]
    session.expunge_all()
    assert [r.state for r in await session.exec(select(Reply))] == ["published"] * 3
    assert all(i.state == OutboxState.SENT for i in await session.exec(select(Outbox).where(Outbox.platform == "vk")))


async def test_refused_publication_fails_the_answer_and_outage_waits(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP)
    intake = intake_for(fake, session_pool, clock)
    post = fake.add_post(-GROUP, "Новости", from_id=-GROUP)
    fake.add_comment(-GROUP, post, CITIZEN, "Яма на дороге")
    fake.add_comment(-GROUP, post, 1002, "Нет света")
    for event in fake.events(GROUP):
        await intake.handle_event(dict(event))
    officer = await session.get(Staff, 3)
    assert officer is not None
    await answer_incident(session, incident_id=1, staff=officer, text="Ответ один", now=clock())
    await answer_incident(session, incident_id=2, staff=officer, text="Ответ два", now=clock())
    fake.fail("wall.createComment", 213, msg="Access to status replies denied")
    worker = OutboxWorker(
        session_pool=session_pool,
        sender=VkSender(VkClients(community=community(fake), user=None, community_id=GROUP)),
        limiter=vk_limiter(clock=lambda: clock().timestamp()),
        clock=clock,
    )
    await worker.tick()  # answers under one post go one per round, in order: the first is refused
    clock.advance(seconds=2)
    await worker.tick()  # the second lands
    session.expunge_all()
    states = sorted(r.state for r in await session.exec(select(Reply)))
    assert states == ["failed", "published"]
    failed = (await session.exec(select(Reply).where(Reply.state == "failed"))).one()
    assert failed.error is not None and "[213]" in failed.error

    # VK down: the answer waits and goes out once VK is back.
    await answer_incident(session, incident_id=failed.incident_id, staff=officer, text="Ещё раз", now=clock())
    fake.fail_http("wall.createComment", 503, times=6)
    clock.advance(seconds=5)
    await worker.tick()
    session.expunge_all()
    pending = (await session.exec(select(Outbox).where(Outbox.kind == outbox.REPLY, Outbox.state == "pending"))).one()
    assert pending.attempts == 1 and pending.last_error is not None
    clock.advance(seconds=5)
    await worker.tick()
    session.expunge_all()
    assert sorted(r.state for r in await session.exec(select(Reply))) == ["failed", "published", "published"]


async def test_too_many_requests_backs_off_instead_of_spinning(fake: FakeVk) -> None:
    client = VkClient(COMMUNITY_TOKEN, api_base=fake.base_url, group=True, sleep=0.2)
    fake.fail("groups.getById", 6, times=2)
    answer = await client.call("groups.getById", group_id=GROUP)
    assert answer["groups"][0]["id"] == GROUP
    attempts = [c.at for c in fake.calls_of("groups.getById")]
    # 0.2 s, then 0.4 s: vk-api's own handler would have slept a flat 0.5 s forever.
    assert len(attempts) == 3 and attempts[2] - attempts[1] > attempts[1] - attempts[0] + 0.1


async def test_revoked_token_on_publishing_stops_the_source(
    fake: FakeVk, session_pool: SessionPool, session: AsyncSession, clock: Clock
) -> None:
    await set_staff_chat(session, staff=None, chat_id=-100500)
    source = await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=GROUP)
    intake = intake_for(fake, session_pool, clock)
    fake.send_to_community(GROUP, CITIZEN, "Нет света")
    for event in fake.events(GROUP):
        await intake.handle_event(dict(event))
    fake.revoke_token(COMMUNITY_TOKEN)
    worker = OutboxWorker(
        session_pool=session_pool,
        sender=VkSender(VkClients(community=community(fake), user=None, community_id=GROUP)),
        limiter=vk_limiter(clock=lambda: clock().timestamp()),
        clock=clock,
    )
    await worker.tick()
    session.expunge_all()
    stopped = await session.get(Source, source.id)
    assert stopped is not None and stopped.error is not None and "[5]" in stopped.error
    assert (await session.exec(select(Outbox).where(Outbox.kind == outbox.SOURCE_FAILED))).one().chat_id == "-100500"
