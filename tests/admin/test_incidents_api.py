"""The incidents API over HTTP: filters, search, sorting, pages, a sector head's isolation, and every action of the
card done as the user's staff member with an audit entry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.api.incidents import SORT_TITLES
from handlers.incidents import SORTS, edit_message, ingest_message
from handlers.sources import register_vk_source
from handlers.types import Attachment, SourceRef
from handlers.users import create_user
from storage.models import AuditEntry, Incident, SourceKind
from tests.admin.conftest import PASSWORD, login
from tests.conftest import Clock
from tests.factories import DIRECT, citizen

VK = SourceRef(platform="vk", kind=SourceKind.VK_COMMUNITY, external_id="77")
PERMALINK = "https://vk.com/wall-77_10?reply=12"

# Each is routed by the shipped rules; the clock stands at Tuesday 2026-11-24, 10:00 in Moscow.
INCIDENTS: tuple[tuple[str, timedelta, SourceRef], ...] = (
    # № 1: roads, Тросна, ten days old: overdue.
    ("Яма на дороге у школы в Тросне, машины бьют колёса", timedelta(days=10), DIRECT),
    # № 2: education, 00:30 in Moscow today (21:30 UTC yesterday): the period is counted in Moscow days.
    ("В школе холодно, дети сидят в куртках", timedelta(hours=9, minutes=30), DIRECT),
    # № 3: improvement, Гранкино; the text has «ё».
    ("Ёлку на площади в Гранкино так и не убрали", timedelta(minutes=30), DIRECT),
    # № 4: housing (ЖКХ), Жерновец, from the VK community.
    ("В Жерновце нет воды третий день, водокачка не работает", timedelta(0), VK),
    # № 5: roads, Ломовец, logged last but received twenty days ago: sorted by arrival, not by number.
    ("Грейдер так и не прошёл по дороге на Ломовец", timedelta(days=20), DIRECT),
)


async def seed(session: AsyncSession, clock: Clock) -> None:
    await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=77, title="Администрация района")
    for person, (text, age, source) in enumerate(INCIDENTS, start=801):
        message = citizen(text, at=clock() - age, user=person, source=source)
        if source == VK:
            message = replace(message, permalink=PERMALINK, attachments=(Attachment(kind="photo"),))
        result = await ingest_message(session, message=message, now=clock())
        assert result.created, text
    # The admin acts as the officer (Суркова, staff 3), who may act on every sector.
    await create_user(session, login="admin", password=PASSWORD, role="admin", staff_id=3)
    await create_user(session, login="erokhina", password=PASSWORD, role="sector_head", staff_id=5)  # «Образование»
    await create_user(session, login="viewer", password=PASSWORD, role="curator")  # no staff member behind it


async def numbers(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[int]:
    response = await client.get("/api/incidents", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def audit_trail(session: AsyncSession) -> list[tuple[str, str, str, dict[str, Any]]]:
    rows = await session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))
    return [(e.login, e.action, e.target, e.data) for e in rows]


def test_every_sort_has_a_title() -> None:
    assert tuple(SORT_TITLES) == SORTS


async def test_filters(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    assert await numbers(client, admin) == [4, 3, 2, 1, 5]
    assert await numbers(client, admin, status="open") == [4, 3, 2, 1, 5]
    assert await numbers(client, admin, status=["assigned", "closed"]) == [4, 3, 2, 1, 5]
    assert await numbers(client, admin, status="closed") == []
    assert await numbers(client, admin, sector="roads") == [1, 5]
    assert await numbers(client, admin, source="vk_community") == [4]
    tg = (await client.get("/api/incidents/1", headers=admin)).json()["source_id"]
    assert await numbers(client, admin, source=str(tg)) == [3, 2, 1, 5]
    assert await numbers(client, admin, settlement="Тросна") == [1]
    assert await numbers(client, admin, assignee=5) == [2]
    assert await numbers(client, admin, assignee=1) == [4, 3, 1, 5]  # Волкова heads roads, improvement, ЖКХ
    assert await numbers(client, admin, overdue="true") == [1, 5]
    assert await numbers(client, admin, overdue="true", sector="roads", settlement="Ломовец") == [5]
    # Periods are Moscow days, both ends included.
    assert await numbers(client, admin, **{"from": "2026-11-24"}) == [4, 3, 2]
    assert await numbers(client, admin, to="2026-11-23") == [1, 5]
    assert await numbers(client, admin, **{"from": "2026-11-14", "to": "2026-11-14"}) == [1]

    page = (await client.get("/api/incidents", params={"overdue": "true"}, headers=admin)).json()
    assert page["total"] == 2 and all(item["overdue"] for item in page["items"])
    for params, detail in (
        ({"status": "потерян"}, "Такого статуса нет: «потерян»."),
        ({"source": "луна"}, "Такого источника нет."),
        ({"from": "2026-11-24", "to": "2026-11-01"}, "Начало периода позже его конца."),
    ):
        refused = await client.get("/api/incidents", params=params, headers=admin)
        assert refused.status_code == 422 and refused.json()["detail"] == detail
    assert (await client.get("/api/incidents", params={"sort": "random"}, headers=admin)).status_code == 422
    assert (await client.get("/api/incidents", params={"from": "вчера"}, headers=admin)).status_code == 422


async def test_search_in_any_case_with_yo_or_ye(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    for query in ("ёлку", "ЕЛКУ", "Ёлку", "елку на площади", "  ЁЛКУ   ГРАНКИНО "):
        assert await numbers(client, admin, q=query) == [3], query
    assert await numbers(client, admin, q="КОЛЁСА") == [1]  # «колёса» in the text, in capitals
    assert await numbers(client, admin, q="колеса") == [1]
    assert await numbers(client, admin, q="школ") == [2, 1]  # a part of a word: «школы», «школе»
    assert await numbers(client, admin, q="школ тросн") == [1]  # every word
    assert await numbers(client, admin, q="школ", sector="education") == [2]
    assert await numbers(client, admin, q="100%_") == []  # LIKE's wildcards are plain characters here
    assert await numbers(client, admin, q="№ 3") == [3]
    assert await numbers(client, admin, q="4") == [4]
    assert await numbers(client, admin, q="снег") == []
    page = (await client.get("/api/incidents", params={"q": "школ", "limit": 1, "offset": 1}, headers=admin)).json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [1]


async def test_sorting_and_pages(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    assert await numbers(client, admin, sort="new") == [4, 3, 2, 1, 5]
    assert await numbers(client, admin, sort="old") == [5, 1, 2, 3, 4]
    assert await numbers(client, admin, sort="due") == [5, 1, 2, 3, 4]
    assert await numbers(client, admin, sort="old", q="дорог") == [5, 1]
    clock.advance(minutes=5)
    await client.post("/api/incidents/2/urgent", json={"urgent": True}, headers=admin)
    assert await numbers(client, admin, sort="updated") == [2, 5, 4, 3, 1]

    page = (await client.get("/api/incidents", params={"limit": 2, "offset": 2}, headers=admin)).json()
    assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 2)
    assert [i["id"] for i in page["items"]] == [2, 1]
    assert await numbers(client, admin, limit=2, offset=4) == [5]
    assert await numbers(client, admin, limit=2, offset=10) == []


async def test_filter_choices_are_in_russian_and_limited_to_a_heads_sectors(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    choices = (await client.get("/api/incidents/filters", headers=await login(client, "admin"))).json()
    assert {"value": "open", "title": "все открытые"} in choices["statuses"]
    assert {"value": "vk_community", "title": "VK, сообщество администрации"} in choices["sources"]
    assert {"value": "Тросна", "title": "Тросна"} in choices["settlements"]
    assert len(choices["sectors"]) == 14 and choices["sorts"][0] == {"value": "new", "title": "сначала новые"}
    head = (await client.get("/api/incidents/filters", headers=await login(client, "erokhina"))).json()
    assert head["sectors"] == [{"value": "education", "title": "Образование"}]


async def test_a_sector_head_sees_and_acts_on_own_sectors_only(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    head = await login(client, "erokhina")
    assert await numbers(client, head) == [2]
    assert await numbers(client, head, sector="roads") == []
    assert await numbers(client, head, q="яма") == []
    assert await numbers(client, head, q="1") == []  # another sector's number is not found either
    for number in (1, 3, 4, 5):
        missing = await client.get(f"/api/incidents/{number}", headers=head)
        assert missing.status_code == 404 and missing.json()["detail"] == f"Инцидент № {number} не найден."
    # Acting on another sector's incident looks the same as acting on a missing one, and changes nothing.
    for action, body in (
        ("accept", None),
        ("answer", {"text": "Ответ"}),
        ("close", None),
        ("reassign", {"sector": "education"}),
    ):
        response = await client.post(f"/api/incidents/1/{action}", json=body, headers=head)
        assert response.status_code == 404 and response.json()["detail"] == "Инцидент № 1 не найден."
    incident = await session.get(Incident, 1)
    assert incident is not None and incident.status == "assigned"

    accepted = await client.post("/api/incidents/2/accept", headers=head)
    assert accepted.status_code == 200 and accepted.json()["status"] == "in_progress"
    assert accepted.json()["assignee"] == "Ерохина Инна Владимировна"
    assert accepted.json()["events"][-1]["staff_name"] == "Ерохина Инна Владимировна"
    assert await audit_trail(session) == [("erokhina", "incident_accept", "incident:2", {})]


async def test_every_action_over_the_api(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")

    async def post(number: int, action: str, body: dict[str, Any] | None = None, code: int = 200) -> dict[str, Any]:
        response = await client.post(f"/api/incidents/{number}/{action}", json=body, headers=admin)
        assert response.status_code == code, response.text
        result: dict[str, Any] = response.json()
        return result

    assert (await post(1, "accept"))["status"] == "in_progress"
    interim = await post(1, "answer", {"text": "Разбираемся, ответим до пятницы.", "final": False})
    assert interim["status"] == "in_progress" and interim["phase"] == "answer"
    assert interim["replies"][0]["is_final"] is False and interim["replies"][0]["state"] == "pending"
    due = datetime.fromisoformat(interim["due_at"])
    extended = await post(1, "extend", {"working_days": 3, "reason": "Ждём подрядчика"})
    assert datetime.fromisoformat(extended["due_at"]) > due
    assert extended["events"][-1]["title"] == "срок продлён"
    assert extended["events"][-1]["data"]["reason"] == "Ждём подрядчика"
    # A moment without a zone is Moscow time.
    later = await post(1, "extend", {"until": "2026-12-31T12:00", "reason": "Зимой не ремонтируют"})
    assert later["due_at"] == "2026-12-31T09:00:00Z"
    assert (await post(1, "wait"))["status"] == "waiting"
    assert (await post(1, "resume"))["status"] == "in_progress"
    final = await post(1, "answer", {"text": "Яму засыпали.", "final": True})
    assert final["status"] == "answered" and [r["is_final"] for r in final["replies"]] == [False, True]
    assert (await post(1, "close"))["status"] == "closed"
    assert (await post(1, "reopen"))["status"] == "assigned"

    assert (await post(2, "urgent", {"urgent": True}))["urgent"] is True
    assert (await post(2, "track", {"track": "appeal"}))["track"] == "appeal"
    moved = await post(3, "reassign", {"sector": "roads"})
    assert moved["sector_code"] == "roads" and moved["sector_title"] == "Дороги"
    rejected = await post(4, "reject")
    assert rejected["status"] == "rejected" and rejected["status_title"] == "не инцидент"

    trail = await audit_trail(session)
    assert [(login, action, target) for login, action, target, _ in trail] == [
        ("admin", "incident_accept", "incident:1"),
        ("admin", "incident_answer", "incident:1"),
        ("admin", "incident_extend", "incident:1"),
        ("admin", "incident_extend", "incident:1"),
        ("admin", "incident_wait", "incident:1"),
        ("admin", "incident_resume", "incident:1"),
        ("admin", "incident_answer", "incident:1"),
        ("admin", "incident_close", "incident:1"),
        ("admin", "incident_reopen", "incident:1"),
        ("admin", "incident_urgent", "incident:2"),
        ("admin", "incident_track", "incident:2"),
        ("admin", "incident_reassign", "incident:3"),
        ("admin", "incident_reject", "incident:4"),
    ]
    assert trail[1][3] == {"text": "Разбираемся, ответим до пятницы.", "final": False}
    assert trail[2][3]["reason"] == "Ждём подрядчика" and trail[2][3]["working_days"] == 3
    assert trail[3][3]["until"] == "2026-12-31T12:00:00+03:00"


async def test_refusals_are_russian_and_leave_no_trace(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    cases: tuple[tuple[int, str, dict[str, Any] | None, int, str], ...] = (
        (1, "reassign", {"sector": "roads"}, 422, "Инцидент № 1 уже в блоке «Дороги»."),
        (1, "reassign", {"sector": "луна"}, 422, "Такого блока нет в справочнике."),
        (1, "resume", None, 409, "Инцидент № 1 не ждёт ответа жителя."),
        (
            1,
            "extend",
            {"reason": "нужно больше времени"},
            422,
            "Укажите новый срок или на сколько рабочих дней продлить.",
        ),
        (1, "extend", {"working_days": 1, "reason": "  "}, 422, "Укажите причину продления срока."),
        (
            1,
            "extend",
            {"until": "2026-11-01T10:00:00+03:00", "reason": "позже"},
            422,
            "Новый срок должен быть позже нынешнего.",
        ),
        (1, "answer", {"text": "   "}, 422, "Ответ пустой: напишите текст ответа."),
        (99, "close", None, 404, "Инцидент № 99 не найден."),
    )
    for number, action, body, code, detail in cases:
        response = await client.post(f"/api/incidents/{number}/{action}", json=body, headers=admin)
        assert (response.status_code, response.json().get("detail")) == (code, detail), (action, response.text)
    assert (await client.post("/api/incidents/1/track", json={"track": "срочно"}, headers=admin)).status_code == 422
    assert await audit_trail(session) == []

    viewer = await login(client, "viewer")
    assert (await client.get("/api/incidents/1", headers=viewer)).status_code == 200  # reading is allowed
    refused = await client.post("/api/incidents/1/accept", headers=viewer)
    assert refused.status_code == 403 and "не связан с сотрудником" in refused.json()["detail"]
    assert await audit_trail(session) == []


async def test_cookie_actions_need_the_csrf_token(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    csrf = (await client.post("/api/auth/login", json={"login": "admin", "password": PASSWORD})).json()["csrf"]
    refused = await client.post("/api/incidents/1/accept")
    assert refused.status_code == 403 and "устарела" in refused.json()["detail"]
    assert (await client.post("/api/incidents/1/accept", headers={"X-CSRF-Token": csrf})).status_code == 200
    assert [action for _, action, _, _ in await audit_trail(session)] == ["incident_accept"]


async def test_detail_has_everything_of_the_card(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    detail = (await client.get("/api/incidents/4", headers=admin)).json()
    assert detail["source_kind"] == "vk_community" and detail["source_title"] == "Администрация района"
    assert detail["sector_title"] == "Жилищно-коммунальное хозяйство" and detail["settlement"] == "Жерновец"
    assert detail["author_name"] == "Иван Петров" and detail["assignee"] == "Волкова Наталья Николаевна"
    assert [m["text"] for m in detail["messages"]] == [INCIDENTS[3][0]]
    assert detail["permalink"] == PERMALINK and detail["attachments"][0]["kind"] == "photo"
    assert [(e["kind"], e["title"]) for e in detail["events"]] == [
        ("received", "получено сообщение"),
        ("routed", "направлено в блок"),
    ]
    assert detail["problem_size"] == 1 and detail["replies"] == [] and detail["overdue"] is False
    assert datetime.fromisoformat(detail["received_at"]) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    schema = (await client.get("/api/openapi.json", headers=admin)).json()
    for path in ("/api/incidents", "/api/incidents/filters", "/api/incidents/{incident_id}/extend"):
        assert path in schema["paths"], path
    parameters = {p["name"] for p in schema["paths"]["/api/incidents"]["get"]["parameters"]}
    assert {"status", "sector", "source", "settlement", "assignee", "overdue", "from", "to", "q", "sort"} <= parameters


async def test_search_follows_a_citizens_edit(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    message = citizen("Сломана скамейка у клуба", at=clock(), user=901)
    await ingest_message(session, message=message, now=clock())
    admin = await login(client, "admin")
    assert await numbers(client, admin, q="скамейка") == [6]
    await edit_message(
        session, platform_source_id=DIRECT.external_id, platform="telegram", external_id=message.external_id,
        text="Сломаны качели у клуба", now=clock(),
    )  # fmt: skip
    assert await numbers(client, admin, q="скамейка") == []
    assert await numbers(client, admin, q="КАЧЕЛИ") == [6]
