"""The incident pages over HTTP: the list's filters, search, sorting and pages; the card; every action through its
form with the session's CSRF token; a sector head's isolation."""

from __future__ import annotations

import re

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.incidents import ingest_message
from storage.models import Incident
from tests.admin.conftest import PASSWORD
from tests.admin.test_incidents_api import INCIDENTS, PERMALINK, audit_trail, seed
from tests.admin.test_pages import form_token, log_in_page
from tests.conftest import Clock
from tests.factories import citizen


async def page_numbers(client: httpx.AsyncClient, **params: str) -> list[int]:
    response = await client.get("/incidents", params=params)
    assert response.status_code == 200, response.text
    return [int(n) for n in re.findall(r'<td><a href="/incidents/(\d+)">', response.text)]


async def logged_in(client: httpx.AsyncClient, login: str) -> str:
    """Log in through the form; the session's CSRF token as the pages carry it."""
    done = await log_in_page(client, login, PASSWORD)
    assert done.status_code == 303, done.text
    return form_token((await client.get("/incidents")).text)


async def test_list_filters_search_and_sorting(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await logged_in(client, "admin")
    page = await client.get("/incidents")
    assert page.status_code == 200 and "<h1>Инциденты</h1>" in page.text and "Найдено: 5" in page.text
    assert 'name="status"' in page.text and "все открытые" in page.text and "только просроченные" in page.text
    assert "просрочен</span>" in page.text and "24.11.2026 10:00" in page.text  # Moscow time
    assert await page_numbers(client) == [4, 3, 2, 1, 5]
    assert await page_numbers(client, status="open") == [4, 3, 2, 1, 5]
    assert await page_numbers(client, status="closed") == []
    assert await page_numbers(client, sector="roads") == [1, 5]
    assert await page_numbers(client, source="vk_community") == [4]
    assert await page_numbers(client, settlement="Тросна") == [1]
    assert await page_numbers(client, assignee="5") == [2]
    assert await page_numbers(client, overdue="1") == [1, 5]
    assert await page_numbers(client, **{"from": "2026-11-24"}) == [4, 3, 2]
    assert await page_numbers(client, to="2026-11-23", sort="old") == [5, 1]
    assert await page_numbers(client, q="ЁЛКУ") == [3]
    assert await page_numbers(client, q="елку") == [3]
    assert await page_numbers(client, q="школ", sector="education") == [2]
    assert await page_numbers(client, sort="due") == [5, 1, 2, 3, 4]
    empty = await client.get("/incidents", params={"q": "снег"})
    assert "Инцидентов с такими условиями нет." in empty.text and "Сбросить" in empty.text

    # A value that makes no sense is left out and said so; the page still answers.
    odd = await client.get("/incidents", params={"from": "вчера", "sort": "random", "page": "x"})
    assert odd.status_code == 200 and "Дата периода не распознана" in odd.text
    assert await page_numbers(client, **{"from": "вчера"}) == [4, 3, 2, 1, 5]
    wrong = await client.get("/incidents", params={"source": "луна"})
    assert wrong.status_code == 422 and "Такого источника нет." in wrong.text


async def test_pages_keep_the_filters(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    for person in range(52):
        message = citizen(f"Яма на дороге, участок {person}", at=clock(), user=1000 + person)
        await ingest_message(session, message=message, now=clock())
    await logged_in(client, "admin")
    first = await client.get("/incidents", params={"q": "яма"})
    assert "Найдено: 53" in first.text and "страница 1 из 2" in first.text
    assert 'href="/incidents?q=%D1%8F%D0%BC%D0%B0&amp;page=2"' in first.text
    assert len(await page_numbers(client, q="яма")) == 50
    second = await page_numbers(client, q="яма", page="2")
    assert second == [7, 6, 1]  # the same moment: the newest number first; № 1 was received ten days ago
    assert await page_numbers(client, q="яма", page="9") == []


async def test_card_shows_the_incident(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await logged_in(client, "admin")
    card = await client.get("/incidents/4")
    assert card.status_code == 200
    for expected in (
        "Инцидент № 4",
        "назначен",
        INCIDENTS[3][0],
        "Жилищно-коммунальное хозяйство",
        "Волкова Наталья Николаевна",
        "Администрация района",
        f'href="{PERMALINK.replace("&", "&amp;")}"',
        "Иван Петров",
        "Жерновец",
        "срок реакции — 25.11.2026 10:00",
        "сообщение из соцсетей",
        "Вложения:",
        "фото",
        "получено сообщение",
        "направлено в блок",
        "Опубликовать как окончательный",
        "Опубликовать как промежуточный",
        "Передать в другой блок",
        "Не инцидент",
        "Закрыть",
        "Ждём ответа жителя",
        "Продлить срок",
        "Срочный",
        "59-ФЗ",
        "Принять",
    ):
        assert expected in card.text, expected
    assert "Вернуть в работу" not in card.text and "Продолжить" not in card.text
    missing = await client.get("/incidents/99")
    assert missing.status_code == 404 and "Инцидент № 99 не найден." in missing.text


async def test_every_action_through_its_form(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    token = await logged_in(client, "admin")

    async def submit(number: int, action: str, done: str | None = None, **fields: str) -> str:
        response = await client.post(f"/incidents/{number}/{action}", data={"csrf_token": token, **fields})
        assert response.status_code == 303, response.text
        assert response.headers["location"] == f"/incidents/{number}?done={done or action}"
        return (await client.get(response.headers["location"])).text

    assert "Инцидент принят в работу." in await submit(1, "accept")
    interim = await submit(1, "answer", "interim", text="Разбираемся, ответим до пятницы.", final="0")
    assert "Промежуточный ответ принят" in interim and "промежуточный · публикуется" in interim
    assert "Срок продлён." in await submit(1, "extend", working_days="3", until="", reason="Ждём подрядчика")
    extended = await submit(1, "extend", until="2026-12-31T12:00", reason="Зимой не ремонтируют")
    assert "31.12.2026 12:00" in extended and "причина: Зимой не ремонтируют" in extended
    assert "Вернуть в работу" not in extended
    waiting = await submit(1, "wait")
    assert "Срок приостановлен: ждём ответа жителя." in waiting and "Продолжить" in waiting
    assert "Срок снова идёт." in await submit(1, "resume")
    assert "Окончательный ответ принят" in await submit(1, "answer", text="Яму засыпали.", final="1")
    closed = await submit(1, "close")
    assert "Инцидент закрыт." in closed and "Вернуть в работу" in closed
    assert "Инцидент снова в работе." in await submit(1, "reopen")
    urgent = await submit(2, "urgent", urgent="1")
    assert "Снять «Срочный»" in urgent and "срочный</span>" in urgent
    assert "обращение по 59-ФЗ" in await submit(2, "track", track="appeal")
    moved = await submit(3, "reassign", sector="roads")
    assert "передано в другой блок" in moved and "Благоустройство → Дороги" in moved
    rejected = await submit(4, "reject")
    assert "Инцидент отмечен «не инцидент»." in rejected and "отмечено «не инцидент»" in rejected

    states = {n: await session.get(Incident, n) for n in (1, 2, 3, 4)}
    await session.refresh(states[1])
    assert states[1] is not None and states[1].status == "assigned"
    assert [action for _, action, _, _ in await audit_trail(session)] == [
        "incident_accept",
        "incident_answer",
        "incident_extend",
        "incident_extend",
        "incident_wait",
        "incident_resume",
        "incident_answer",
        "incident_close",
        "incident_reopen",
        "incident_urgent",
        "incident_track",
        "incident_reassign",
        "incident_reject",
    ]
    assert all(login == "admin" for login, *_ in await audit_trail(session))


async def test_a_form_without_the_token_is_refused(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    await logged_in(client, "admin")
    for data in ({}, {"csrf_token": "forged"}):
        refused = await client.post("/incidents/1/close", data=data)
        assert refused.status_code == 403 and "устарела" in refused.text
    incident = await session.get(Incident, 1)
    assert incident is not None and incident.status == "assigned"
    assert await audit_trail(session) == []


async def test_a_refusal_shows_the_card_with_the_reason(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    token = await logged_in(client, "admin")
    same = await client.post("/incidents/1/reassign", data={"csrf_token": token, "sector": "roads"})
    assert same.status_code == 422 and "Инцидент № 1 уже в блоке «Дороги»." in same.text
    past = {"csrf_token": token, "until": "2026-11-01T10:00", "reason": "подрядчик заболел"}
    late = await client.post("/incidents/1/extend", data=past)
    assert late.status_code == 422 and "Новый срок должен быть позже нынешнего." in late.text
    assert 'value="подрядчик заболел"' in late.text  # what was typed is not lost
    no_reason = await client.post("/incidents/1/extend", data={"csrf_token": token, "working_days": "3"})
    assert no_reason.status_code == 422 and "Укажите причину продления срока." in no_reason.text
    empty = await client.post("/incidents/1/answer", data={"csrf_token": token, "text": "  ", "final": "1"})
    assert empty.status_code == 422 and "Ответ пустой" in empty.text
    assert (await client.post("/incidents/1/fly", data={"csrf_token": token})).status_code == 404
    assert await audit_trail(session) == []


async def test_a_sector_head_sees_only_own_sectors(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    token = await logged_in(client, "erokhina")
    assert await page_numbers(client) == [2]
    assert await page_numbers(client, sector="roads") == []
    assert await page_numbers(client, q="яма") == []
    listing = await client.get("/incidents")
    assert "Образование" in listing.text and "Дороги</option>" not in listing.text
    for number in (1, 3, 4, 5):
        card = await client.get(f"/incidents/{number}")
        assert card.status_code == 404 and f"Инцидент № {number} не найден." in card.text
        assert INCIDENTS[number - 1][0] not in card.text
    closing = await client.post("/incidents/1/close", data={"csrf_token": token})
    assert closing.status_code == 404 and "Инцидент № 1 не найден." in closing.text
    incident = await session.get(Incident, 1)
    assert incident is not None and incident.status == "assigned"

    own = await client.get("/incidents/2")
    assert own.status_code == 200 and INCIDENTS[1][0] in own.text and "Принять" in own.text
    accepted = await client.post("/incidents/2/accept", data={"csrf_token": token})
    assert accepted.status_code == 303
    assert await audit_trail(session) == [("erokhina", "incident_accept", "incident:2", {})]


async def test_a_login_without_staff_reads_but_cannot_act(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    token = await logged_in(client, "viewer")
    card = await client.get("/incidents/1")
    assert card.status_code == 200 and "не связан с сотрудником" in card.text
    assert 'action="/incidents/1/accept"' not in card.text
    refused = await client.post("/incidents/1/accept", data={"csrf_token": token})
    assert refused.status_code == 403 and "не связан с сотрудником" in refused.text
