"""The quarterly report over the API: the XLSX file read back, its Russian name, who may download it."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.users import create_user
from tests.admin.conftest import PASSWORD, login
from tests.conftest import Clock
from tests.handlers.test_reports import check, seed

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
URL = "/api/reports/quarterly"


async def _users(session: AsyncSession) -> None:
    for name, role in [
        ("admin", "admin"), ("head", "mcu_head"), ("curator", "curator"), ("surkova", "officer"),
        ("pos", "pos_officer"), ("erokhina", "sector_head"),
    ]:  # fmt: skip
        user = await create_user(session, login=name, password=PASSWORD, role=role)
        if role == "sector_head":
            user.staff_id = 5
            session.add(user)
    await session.commit()


async def test_the_file_is_the_quarters_report(session: AsyncSession, client: httpx.AsyncClient, clock: Clock) -> None:
    await seed(session, clock)
    await _users(session)
    response = await client.get(URL, params={"year": 2026, "quarter": 4}, headers=await login(client, "admin"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    name = quote("Отчёт для ЦУР за 4 квартал 2026 года.xlsx")
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"cur-report-2026-q4.xlsx\"; filename*=UTF-8''{name}"
    )
    check(response.content)


@pytest.mark.parametrize(("login_name", "code"), [
    ("admin", 200), ("head", 200), ("curator", 200), ("surkova", 200), ("pos", 403), ("erokhina", 403),
])  # fmt: skip
async def test_who_may_download(session: AsyncSession, client: httpx.AsyncClient, login_name: str, code: int) -> None:
    await _users(session)
    response = await client.get(URL, params={"year": 2026, "quarter": 1}, headers=await login(client, login_name))
    assert response.status_code == code, response.text
    if code == 403:
        assert response.json()["detail"] == "Это доступно не для вашей роли."
    client.cookies.clear()
    assert (await client.get(URL, params={"year": 2026, "quarter": 1})).status_code == 401


@pytest.mark.parametrize(("params", "detail"), [
    ({"year": "2026", "quarter": "5"}, "Квартал — число от 1 до 4."),
    ({"year": "2026", "quarter": "0"}, "Квартал — число от 1 до 4."),
    ({"year": "2026", "quarter": "весна"}, "Квартал — число от 1 до 4."),
    ({"year": "2026"}, "Квартал — число от 1 до 4."),
    ({"year": "26 год", "quarter": "1"}, "Год — четыре цифры, от 2000 до 2100."),
    ({"year": "1999", "quarter": "1"}, "Год — четыре цифры, от 2000 до 2100."),
])  # fmt: skip
async def test_a_bad_quarter_is_refused_in_russian(
    session: AsyncSession, client: httpx.AsyncClient, params: dict[str, str], detail: str
) -> None:
    await _users(session)
    response = await client.get(URL, params=params, headers=await login(client, "admin"))
    assert response.status_code == 422 and response.json()["detail"] == detail


async def test_the_rating_page_offers_the_download(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await _users(session)
    await login(client, "curator")  # sets the session cookie the page reads
    page = await client.get("/ratings", params={"from": "2026-11-01", "to": "2026-11-24"})
    assert page.status_code == 200
    assert "Квартальный отчёт для ЦУР" in page.text and 'action="/api/reports/quarterly"' in page.text
    assert '<option value="4" selected>4 квартал</option>' in page.text and 'value="2026"' in page.text
    assert "Скачать XLSX" in page.text
    # The form submits by GET with the session cookie: the file comes back.
    download = await client.get(URL, params={"year": "2026", "quarter": "4"})
    assert download.status_code == 200 and download.headers["content-type"] == XLSX

    client.cookies.clear()
    await login(client, "pos")  # may see the rating, not download the report
    page = await client.get("/ratings")
    assert page.status_code == 200 and "Квартальный отчёт для ЦУР" not in page.text
