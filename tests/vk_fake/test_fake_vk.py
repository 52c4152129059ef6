"""The fake VK API against the real vk-api client and an aiohttp long poll, so product tests can trust it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import jconfig
import pytest
import requests
import vk_api
from vk_api.exceptions import ApiError, ApiHttpError

from tests.vk_fake import API_VERSION, FakeVk, parse_execute, rebased_session
from tests.vk_fake.fake import ERROR_MESSAGES

log = logging.getLogger(__name__)

GROUP = 777
GROUP_TOKEN = "community-token"
HEAD = 5005  # the head of district: a user token, admin of the community
HEAD_TOKEN = "head-user-token"
CITIZEN = 1001
NOW = 1_764_000_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeVk]:
    async with FakeVk(clock=lambda: NOW, max_wait=0.3) as fake:
        fake.add_community(GROUP, "Администрация района", "adm_rayon", GROUP_TOKEN, admins=[HEAD])
        fake.add_user(CITIZEN, "Иван", "Петров", screen_name="ivan_p")
        fake.add_user(HEAD, "Ольга", "Смирнова", token=HEAD_TOKEN)
        yield fake


@contextlib.contextmanager
def vk_client(fake: FakeVk, token: str, *, group: bool = True, timeout: float | None = None) -> Iterator[Any]:
    """The real vk-api client as the product builds it, pointed at the fake."""
    session = rebased_session(fake.base_url, timeout)
    api_class = vk_api.VkApiGroup if group else vk_api.VkApi
    try:
        yield api_class(token=token, api_version=API_VERSION, session=session, config=jconfig.MemoryConfig)
    finally:
        session.close()


@pytest.fixture
def community(fake: FakeVk) -> Iterator[Any]:
    with vk_client(fake, GROUP_TOKEN) as vk:
        yield vk


@pytest.fixture
def head(fake: FakeVk) -> Iterator[Any]:
    with vk_client(fake, HEAD_TOKEN, group=False) as vk:
        yield vk


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(vk: Any, method: str, *, raw: bool = False, **params: Any) -> Any:
    # vk-api is synchronous and the fake serves from this loop: the call must run in a thread.
    return await asyncio.to_thread(vk.method, method, params, raw=raw)


async def api(
    http: aiohttp.ClientSession, fake: FakeVk, method: str, token: str = GROUP_TOKEN, **params: Any
) -> dict[str, Any]:
    """A raw POST like vk-api sends, for looking at the exact answer."""
    data = {"access_token": token, "v": API_VERSION, **{key: str(value) for key, value in params.items()}}
    async with http.post(f"{fake.base_url}/method/{method}", data=data) as response:
        response.raise_for_status()
        answer: dict[str, Any] = await response.json()
        return answer


async def a_check(
    http: aiohttp.ClientSession, server: dict[str, Any], *, ts: str | None = None, key: str | None = None, wait: int = 0
) -> dict[str, Any]:
    params = {"act": "a_check", "key": key or server["key"], "ts": ts or server["ts"], "wait": str(wait)}
    async with http.get(server["server"], params=params) as response:
        response.raise_for_status()
        answer: dict[str, Any] = await response.json(content_type=None)
        return answer


async def test_rebased_session_rewrites_both_official_hosts(fake: FakeVk) -> None:
    def post_to_both() -> list[Any]:
        with rebased_session(fake.base_url + "/") as session:
            data = {"access_token": GROUP_TOKEN, "v": API_VERSION, "user_ids": str(CITIZEN)}
            hosts = ("https://api.vk.ru", "https://api.vk.com")
            return [session.post(f"{host}/method/users.get", data).json()["response"][0]["id"] for host in hosts]

    assert await asyncio.to_thread(post_to_both) == [CITIZEN, CITIZEN]
    assert len(fake.calls_of("users.get")) == 2


def test_parse_execute_shapes() -> None:
    script = parse_execute('return [API.wall.getComments({"owner_id": -1, "post_id": 2}), API.users.get()];')
    assert script.as_list and script.calls == [("wall.getComments", {"owner_id": -1, "post_id": 2}), ("users.get", {})]
    single = parse_execute('return API.groups.getById({"group_id": 1});')
    assert not single.as_list and single.calls == [("groups.getById", {"group_id": 1})]


async def test_get_by_id_and_users_get(fake: FakeVk, community: Any) -> None:
    own = await call(community, "groups.getById")
    assert own["profiles"] == []
    [group] = own["groups"]
    assert {k: group[k] for k in ("id", "name", "screen_name", "is_closed", "type")} == {
        "id": GROUP, "name": "Администрация района", "screen_name": "adm_rayon", "is_closed": 0, "type": "group",
    }  # fmt: skip
    assert group["photo_200"].startswith("https://")
    named = await call(community, "groups.getById", group_ids="adm_rayon,club777")
    assert [g["id"] for g in named["groups"]] == [GROUP, GROUP]
    with pytest.raises(ApiError) as unknown:
        await call(community, "groups.getById", group_id="nosuchgroup")
    assert unknown.value.code == 100

    people = await call(community, "users.get", user_ids=f"{CITIZEN},ivan_p,424242", fields="screen_name")
    assert people == [
        {"id": CITIZEN, "first_name": "Иван", "last_name": "Петров", "can_access_closed": True, "is_closed": False,
         "screen_name": "ivan_p"},
        {"id": CITIZEN, "first_name": "Иван", "last_name": "Петров", "can_access_closed": True, "is_closed": False,
         "screen_name": "ivan_p"},
        {"id": 424242, "first_name": "DELETED", "last_name": "", "deactivated": "deleted", "can_access_closed": True,
         "is_closed": False},
    ]  # fmt: skip
    [first] = fake.calls_of("groups.getById")[:1]
    assert first.token == GROUP_TOKEN and first.params == {"v": API_VERSION} and first.error_code is None


async def test_wall_get_newest_first_and_refused_to_a_community_key(fake: FakeVk, community: Any, head: Any) -> None:
    first = fake.add_post(HEAD, "Первый пост")
    second = fake.add_post(HEAD, "Пишите о проблемах", from_id=HEAD)
    fake.add_comment(HEAD, second, CITIZEN, "Во дворе яма")
    fake.add_post(HEAD, "Предложенная", from_id=CITIZEN, post_type="suggest")
    wall = await call(head, "wall.get", owner_id=HEAD, count=10)
    assert wall["count"] == 2 and [p["id"] for p in wall["items"]] == [second, first]
    post = wall["items"][0]
    assert {k: post[k] for k in ("id", "owner_id", "from_id", "date", "text", "post_type")} == {
        "id": second, "owner_id": HEAD, "from_id": HEAD, "date": NOW, "text": "Пишите о проблемах", "post_type": "post",
    }  # fmt: skip
    assert post["comments"] == {"count": 1, "can_post": 1, "groups_can_post": True}
    with pytest.raises(ApiError) as refused:
        await call(community, "wall.get", owner_id=-GROUP)
    assert refused.value.code == 27


async def test_create_comment_is_recorded_as_the_community(fake: FakeVk, community: Any) -> None:
    post = fake.add_post(-GROUP, "Отключение воды")
    asked = fake.add_comment(-GROUP, post, CITIZEN, "Когда дадут воду?")
    answer = await call(
        community, "wall.createComment", owner_id=-GROUP, post_id=post, message="К 18:00", reply_to_comment=asked,
        from_group=GROUP,
    )  # fmt: skip
    assert answer == {"comment_id": asked + 1, "parents_stack": [asked]}
    reply = fake.comments(-GROUP, post)[-1]
    assert reply == {
        "id": asked + 1, "from_id": -GROUP, "date": NOW, "text": "К 18:00", "post_id": post, "owner_id": -GROUP,
        "parents_stack": [asked], "reply_to_user": CITIZEN, "reply_to_comment": asked,
    }  # fmt: skip
    # VK reports the community's own comment too; the product must recognise it as its own.
    event = fake.events(GROUP)[-1]
    assert event["type"] == "wall_reply_new" and event["object"]["from_id"] == -GROUP
    [logged] = fake.calls_of("wall.createComment")
    assert logged.params["message"] == "К 18:00" and logged.params["reply_to_comment"] == str(asked)

    fake.add_post(-1, "Чужая стена")
    closed = fake.add_post(-GROUP, "Без комментариев", comments_open=False)
    refusals: list[tuple[dict[str, Any], int]] = [
        ({"owner_id": -1, "post_id": 1, "message": "x"}, 15),  # a community key comments in its own community only
        ({"owner_id": -GROUP, "post_id": closed, "message": "x"}, 212),
        ({"owner_id": -GROUP, "post_id": 999, "message": "x"}, 15),
        ({"owner_id": -GROUP, "post_id": post}, 100),  # no message
    ]
    for params, code in refusals:
        with pytest.raises(ApiError) as refused:
            await call(community, "wall.createComment", **params)
        assert refused.value.code == code


async def test_messages_send_is_idempotent_by_random_id(fake: FakeVk, community: Any) -> None:
    with pytest.raises(ApiError) as not_allowed:
        await call(community, "messages.send", peer_id=CITIZEN, random_id=1, message="Здравствуйте")
    assert not_allowed.value.code == 901
    incoming = fake.send_to_community(GROUP, CITIZEN, "Не вывозят мусор")
    sent = await call(
        community, "messages.send", peer_id=CITIZEN, random_id=4200, message="Принято", reply_to=incoming["id"]
    )
    again = await call(community, "messages.send", peer_id=CITIZEN, random_id=4200, message="Принято")
    assert isinstance(sent, int) and again == sent
    [message] = fake.sent_messages(GROUP)
    assert message["id"] == sent and message["from_id"] == -GROUP and message["peer_id"] == CITIZEN
    assert message["text"] == "Принято" and message["reply_message"]["id"] == incoming["id"]
    other = await call(community, "messages.send", peer_id=CITIZEN, random_id=4201, message="Ещё")
    assert other == sent + 1 and len(fake.sent_messages(GROUP, CITIZEN)) == 2
    with pytest.raises(ApiError) as too_long:
        await call(community, "messages.send", peer_id=CITIZEN, random_id=4202, message="я" * 4097)
    assert too_long.value.code == 914
    assert [e["type"] for e in fake.events(GROUP)] == ["message_new", "message_reply", "message_reply"]


async def test_execute_runs_three_get_comments(fake: FakeVk, head: Any, community: Any) -> None:
    posts = [fake.add_post(HEAD, f"Пост {n}") for n in range(3)]
    top = fake.add_comment(HEAD, posts[0], CITIZEN, "Яма на Ленина")
    fake.add_comment(HEAD, posts[0], HEAD, "Передали в ЖКХ", reply_to_comment=top)
    later = fake.add_comment(HEAD, posts[1], CITIZEN, "Не горит фонарь")
    fake.add_comment(HEAD, posts[1], CITIZEN, "Уже неделю")
    params = [
        {"owner_id": HEAD, "post_id": posts[0], "count": 100, "sort": "asc", "thread_items_count": 10},
        {"owner_id": HEAD, "post_id": posts[1], "count": 100, "sort": "asc", "start_comment_id": later + 1},
        {"owner_id": HEAD, "post_id": posts[2], "count": 100, "sort": "asc"},
    ]
    code = "return [" + ",".join(f"API.wall.getComments({json.dumps(p, ensure_ascii=False)})" for p in params) + "];"
    answer = await call(head, "execute", raw=True, code=code)
    assert "execute_errors" not in answer
    first, second, third = answer["response"]
    assert first["count"] == 2 and first["current_level_count"] == 1 and first["can_post"] is True
    assert first["items"][0]["text"] == "Яма на Ленина"
    assert first["items"][0]["thread"]["count"] == 1
    assert first["items"][0]["thread"]["items"][0]["reply_to_comment"] == top
    assert [c["text"] for c in second["items"]] == ["Уже неделю"]
    assert third == {"count": 0, "current_level_count": 0, "can_post": True, "show_reply_button": True,
                     "groups_can_post": True, "items": []}  # fmt: skip
    inner = [c for c in fake.calls_of("wall.getComments") if c.in_execute]
    assert [c.params["post_id"] for c in inner] == posts and fake.calls_of("execute")[0].token == HEAD_TOKEN

    # A failed call gives false in place and an entry in execute_errors; the others still answer.
    mixed = 'return [API.groups.getById({}), API.wall.getComments({"owner_id": -777, "post_id": 1})];'
    partial = await call(community, "execute", raw=True, code=mixed)
    assert partial["response"][0]["groups"][0]["id"] == GROUP and partial["response"][1] is False
    assert partial["execute_errors"] == [
        {"method": "wall.getComments", "error_code": 27, "error_msg": "Group authorization failed: method is "
         "unavailable with group auth."}
    ]  # fmt: skip
    too_many = "return [" + ",".join(["API.groups.getById({})"] * 26) + "];"
    for script, error_code in [(too_many, 13), ("var a = 1; return a;", 12)]:
        with pytest.raises(ApiError) as refused:
            await call(community, "execute", raw=True, code=script)
        assert refused.value.code == error_code


async def test_get_comments_paging_threads_and_deleted(fake: FakeVk, http: aiohttp.ClientSession) -> None:
    fake.rate_limits["user"] = None  # raw calls in a burst; the limit has its own test
    post = fake.add_post(-GROUP, "Опрос")
    ids = [fake.add_comment(-GROUP, post, CITIZEN, f"Комментарий {n}") for n in range(5)]
    replies = [fake.add_comment(-GROUP, post, CITIZEN, f"Ответ {n}", reply_to_comment=ids[0]) for n in range(3)]
    fake.delete_comment(-GROUP, ids[0])  # has replies: stays as a stub
    fake.delete_comment(-GROUP, ids[4])  # no replies: gone

    async def get(**params: Any) -> dict[str, Any]:
        answer = await api(http, fake, "wall.getComments", HEAD_TOKEN, owner_id=-GROUP, post_id=post, **params)
        response: dict[str, Any] = answer["response"]
        return response

    page = await get(sort="desc", count=2, offset=1, thread_items_count=2)
    assert page["count"] == 6 and page["current_level_count"] == 4
    assert [c["id"] for c in page["items"]] == [ids[2], ids[1]]
    stub = (await get(thread_items_count=2))["items"][0]
    assert stub["deleted"] is True and stub["text"] == ""
    assert stub["thread"]["count"] == 3 and [r["id"] for r in stub["thread"]["items"]] == replies[:2]
    assert [c["id"] for c in (await get(start_comment_id=ids[2]))["items"]] == ids[2:4]
    thread = await get(comment_id=ids[0], count=10)
    assert [c["id"] for c in thread["items"]] == replies and all("thread" not in c for c in thread["items"])
    deleted = {"owner_id": -GROUP, "id": ids[4], "deleter_id": CITIZEN, "post_id": post}
    assert fake.events(GROUP)[-1]["object"] == deleted


async def test_error_5_for_unknown_and_revoked_tokens(fake: FakeVk, http: aiohttp.ClientSession) -> None:
    with vk_client(fake, "made-up-token") as stranger, pytest.raises(ApiError) as unknown:
        await call(stranger, "groups.getById")
    assert unknown.value.code == 5
    fake.revoke_token(GROUP_TOKEN)
    with vk_client(fake, GROUP_TOKEN) as revoked, pytest.raises(ApiError) as gone:
        await call(revoked, "groups.getById")
    assert gone.value.code == 5
    body = await api(http, fake, "users.get", user_ids=CITIZEN)
    shown = [("method", "users.get"), ("oauth", "1"), ("v", API_VERSION), ("user_ids", str(CITIZEN))]
    assert body == {
        "error": {
            "error_code": 5,
            "error_msg": "User authorization failed: invalid session.",
            "request_params": [{"key": key, "value": value} for key, value in shown],
        }
    }


async def test_injected_errors_answer_once(fake: FakeVk, community: Any) -> None:
    for code in (5, 9, 10, 15, 100, 203):
        fake.fail("groups.getById", code, msg=f"injected {code}" if code == 203 else None)
        with pytest.raises(ApiError) as injected:
            await call(community, "groups.getById")
        assert injected.value.code == code
        assert injected.value.error["error_msg"] == ("injected 203" if code == 203 else ERROR_MESSAGES[code])
    assert (await call(community, "groups.getById"))["groups"][0]["id"] == GROUP
    # Observed: vk-api answers error 6 by itself: it sleeps 0.5 s and repeats the call (without limit).
    fake.fail("groups.getById", 6)
    started = time.monotonic()
    assert (await call(community, "groups.getById"))["groups"][0]["id"] == GROUP
    assert time.monotonic() - started >= 0.5
    assert [c.error_code for c in fake.calls_of("groups.getById")[-2:]] == [6, None]


async def test_rate_limit_answers_error_6(fake: FakeVk) -> None:
    def burst(count: int) -> list[dict[str, Any]]:
        # Plain requests, no vk-api in between: nothing throttles the client side.
        with requests.Session() as session:
            url, data = f"{fake.base_url}/method/groups.getById", {"access_token": GROUP_TOKEN, "v": API_VERSION}
            return [session.post(url, data).json() for _ in range(count)]

    answers = await asyncio.to_thread(burst, 30)
    assert sum("response" in a for a in answers) == 20
    assert [a["error"]["error_code"] for a in answers if "error" in a] == [6] * 10
    assert answers[-1]["error"]["error_msg"] == "Too many requests per second"
    assert fake.rate_violations == 10

    # vk-api with its own delay switched off and its error-6 handler removed: the error reaches the caller.
    fake.add_token("second-token", "group", GROUP)
    with vk_client(fake, "second-token") as bare:
        bare.RPS_DELAY = 0
        del bare.error_handlers[6]

        def until_refused() -> int:
            for number in range(25):
                try:
                    bare.method("groups.getById")
                except ApiError as error:
                    assert error.code == 6
                    return number
            return -1

        assert await asyncio.to_thread(until_refused) == 20

    # vk-api unthrottled but with its handler: every call succeeds in the end, late (0.5 s sleeps, then retries).
    fake.add_token("third-token", "group", GROUP)
    before = fake.rate_violations
    with vk_client(fake, "third-token") as eager:
        eager.RPS_DELAY = 0
        started = time.monotonic()
        results = await asyncio.to_thread(lambda: [eager.method("groups.getById") for _ in range(30)])
    assert len(results) == 30 and fake.rate_violations > before and time.monotonic() - started >= 0.5


async def test_vk_api_group_throttle_stays_under_the_limit(fake: FakeVk, community: Any) -> None:
    # VkApiGroup waits RPS_DELAY = 1/20 s after each answer before the next request: 21 calls never exceed 20/s.
    started = time.monotonic()
    await asyncio.to_thread(lambda: [community.method("groups.getById") for _ in range(21)])
    assert time.monotonic() - started >= 1.0 and fake.rate_violations == 0


async def test_http_errors_and_timeouts(fake: FakeVk, community: Any) -> None:
    for status in (500, 502, 429):
        fake.fail_http("groups.getById", status)
        with pytest.raises(ApiHttpError) as failed:
            await call(community, "groups.getById")
        # vk-api checks response.ok itself: its own ApiHttpError, never requests' HTTPError.
        assert not isinstance(failed.value, requests.HTTPError)
        assert failed.value.response.status_code == status and str(failed.value) == f"Response code {status}"
    assert (await call(community, "groups.getById"))["groups"]
    assert [c.http_status for c in fake.calls_of("groups.getById")] == [500, 502, 429, 200]

    # A timeout is requests' ReadTimeout, not wrapped by vk-api; the call was carried out all the same.
    fake.send_to_community(GROUP, CITIZEN, "Алло")
    fake.delay("messages.send", 2.0)
    with vk_client(fake, GROUP_TOKEN, timeout=0.2) as impatient:
        with pytest.raises(requests.exceptions.ReadTimeout):
            await call(impatient, "messages.send", peer_id=CITIZEN, random_id=7, message="Ответ")
        retried = await call(impatient, "messages.send", peer_id=CITIZEN, random_id=7, message="Ответ")
    [message] = fake.sent_messages(GROUP)
    assert retried == message["id"]


async def test_long_poll_delivers_a_new_comment(fake: FakeVk, community: Any, http: aiohttp.ClientSession) -> None:
    post = fake.add_post(-GROUP, "Ремонт дороги")
    server = await call(community, "groups.getLongPollServer", group_id=GROUP)
    assert set(server) == {"key", "server", "ts"} and server["server"] == f"{fake.base_url}/lp/{GROUP}"
    fake.max_wait = 5.0

    async def comment_soon() -> int:
        await asyncio.sleep(0.05)
        return fake.add_comment(-GROUP, post, CITIZEN, "Когда закончат?")

    started = time.monotonic()
    answer, comment_id = await asyncio.gather(a_check(http, server, wait=25), comment_soon())
    assert time.monotonic() - started < 1.0  # woken by the event, not by the wait running out
    assert answer["ts"] == str(int(server["ts"]) + 1)
    [event] = answer["updates"]
    assert set(event) == {"group_id", "type", "event_id", "v", "object"}
    assert event["group_id"] == GROUP and event["type"] == "wall_reply_new" and event["v"] == "5.199"
    assert re.fullmatch(r"[0-9a-f]{40}", event["event_id"])
    assert event["object"] == {
        "id": comment_id, "from_id": CITIZEN, "date": NOW, "text": "Когда закончат?", "post_id": post,
        "owner_id": -GROUP, "post_owner_id": -GROUP, "parents_stack": [],
    }  # fmt: skip


async def test_long_poll_replays_old_ts_and_waits(fake: FakeVk, http: aiohttp.ClientSession) -> None:
    server = (await api(http, fake, "groups.getLongPollServer", group_id=GROUP))["response"]
    start = server["ts"]
    post = fake.add_post(-GROUP, "Объявление")
    fake.add_comment(-GROUP, post, CITIZEN, "Спасибо")
    first = await a_check(http, server)
    assert first["ts"] == str(int(start) + 2)
    assert [e["type"] for e in first["updates"]] == ["wall_post_new", "wall_reply_new"]
    # Replaying a ts gets the same events again (VK keeps them), a later ts only what came after it.
    assert (await a_check(http, server, ts=start))["updates"] == first["updates"]
    assert (await a_check(http, server, ts=str(int(start) + 1)))["updates"] == first["updates"][1:]
    started = time.monotonic()
    idle = await a_check(http, server, ts=first["ts"], wait=25)
    assert idle == {"ts": first["ts"], "updates": []} and 0.25 <= time.monotonic() - started < 1.0


async def test_long_poll_failures(fake: FakeVk, http: aiohttp.ClientSession) -> None:
    async def new_server() -> dict[str, Any]:
        server: dict[str, Any] = (await api(http, fake, "groups.getLongPollServer", group_id=GROUP))["response"]
        return server

    server = await new_server()
    fake.add_post(-GROUP, "Событие")
    fake.lp_fail(GROUP, 1)
    assert await a_check(http, server) == {"failed": 1, "ts": str(int(server["ts"]) + 1)}
    assert len((await a_check(http, server))["updates"]) == 1  # the key still works after failed 1
    fake.lp_fail(GROUP, 2)
    assert await a_check(http, server) == {"failed": 2}
    assert await a_check(http, server) == {"failed": 2}  # the key has expired for good
    server = await new_server()
    fake.lp_fail(GROUP, 3)
    assert await a_check(http, server) == {"failed": 3}
    server = await new_server()
    rotated = await new_server()
    assert await a_check(http, server) == {"failed": 2}  # each getLongPollServer replaces the key
    assert await a_check(http, rotated, key="wrong") == {"failed": 2}
    assert await a_check(http, rotated, ts="999") == {"failed": 1, "ts": rotated["ts"]}
    assert (await a_check(http, rotated))["updates"] == []
    fake.lp_fail_http(GROUP, 502)
    async with http.get(rotated["server"], params={"act": "a_check", "key": rotated["key"], "ts": "1"}) as response:
        assert response.status == 502

    fake.add_community(888, "Без лонгпола", "no_lp", "other-token", long_poll=False)
    disabled = await api(http, fake, "groups.getLongPollServer", "other-token", group_id=888)
    assert disabled["error"]["error_code"] == 100
    assert (await api(http, fake, "groups.getLongPollServer", group_id=888))["error"]["error_code"] == 15


async def test_other_events_and_callback_payload(fake: FakeVk) -> None:
    message = fake.send_to_community(GROUP, CITIZEN, "Фото ямы", attachments=[{"type": "photo", "photo": {"id": 1}}])
    fake.add_photo_comment(-GROUP, 456, CITIZEN, "Под фото")
    fake.add_video_comment(-GROUP, 789, CITIZEN, "Под видео")
    fake.add_board_post(GROUP, 12, CITIZEN, "В обсуждении")
    suggested = fake.add_post(-GROUP, "Предлагаю новость", from_id=CITIZEN, post_type="suggest")
    post = fake.add_post(-GROUP, "Новость")
    comment = fake.add_comment(-GROUP, post, CITIZEN, "Было")
    fake.edit_comment(-GROUP, comment, "Стало")
    fake.queue_event(999, "wall_reply_new", {"id": 1}, into=GROUP)
    fake.queue_event(GROUP, "group_join", {"user_id": CITIZEN, "join_type": "join"})
    events = fake.events(GROUP)
    assert [e["type"] for e in events] == [
        "message_new", "photo_comment_new", "video_comment_new", "board_post_new", "wall_post_new", "wall_post_new",
        "wall_reply_new", "wall_reply_edit", "wall_reply_new", "group_join",
    ]  # fmt: skip
    assert events[0]["object"]["message"] == message and events[0]["object"]["client_info"]["keyboard"] is True
    assert {k: message[k] for k in ("peer_id", "from_id", "text", "conversation_message_id", "out")} == {
        "peer_id": CITIZEN, "from_id": CITIZEN, "text": "Фото ямы", "conversation_message_id": 1, "out": 0,
    }  # fmt: skip
    assert events[1]["object"] == {"id": 1, "from_id": CITIZEN, "date": NOW, "text": "Под фото",
                                   "photo_owner_id": -GROUP, "photo_id": 456}  # fmt: skip
    assert events[2]["object"]["video_owner_id"] == -GROUP and events[2]["object"]["video_id"] == 789
    assert events[3]["object"]["topic_owner_id"] == -GROUP and events[3]["object"]["topic_id"] == 12
    assert events[4]["object"]["id"] == suggested and events[4]["object"]["post_type"] == "suggest"
    assert events[4]["object"]["from_id"] == CITIZEN and events[4]["object"]["owner_id"] == -GROUP
    assert events[7]["object"]["text"] == "Стало" and events[8]["group_id"] == 999

    assert fake.callback_payload(events[0]) == events[0]
    fake.set_callback_secret(GROUP, "s3cret")
    assert fake.callback_payload(events[0]) == {**events[0], "secret": "s3cret"}

    fake.add_community(555, "Только сообщения", "only_msgs", None, event_types={"message_new"})
    fake.add_post(-555, "Не попадёт в события")
    fake.send_to_community(555, CITIZEN, "Попадёт")
    assert [e["type"] for e in fake.events(555)] == ["message_new"]


async def test_wait_for_call_sees_calls_made_elsewhere(fake: FakeVk, community: Any) -> None:
    async def product() -> None:
        await asyncio.sleep(0.05)
        await call(community, "users.get", user_ids=CITIZEN)

    task = asyncio.create_task(product())
    found = await fake.wait_for_call("users.get", lambda c: c.params.get("user_ids") == str(CITIZEN), timeout=2.0)
    await task
    assert found.token == GROUP_TOKEN
    with pytest.raises(TimeoutError):
        await fake.wait_for_call("messages.send", timeout=0.05)
