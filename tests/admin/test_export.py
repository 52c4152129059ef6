"""Any incident list of the admin as a CSV or XLSX file, with the list's own filters and the same access rules."""

from __future__ import annotations

import csv
import io
from urllib.parse import unquote

import httpx
from openpyxl import load_workbook
from sqlmodel.ext.asyncio.session import AsyncSession

from tests.admin.conftest import login
from tests.admin.test_api import seed
from tests.conftest import Clock


async def test_the_filtered_list_downloads_as_xlsx_and_csv(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    admin = await login(client, "admin")
    xlsx = await client.get("/api/incidents/export", params={"format": "xlsx", "sector": "roads"}, headers=admin)
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert unquote(xlsx.headers["content-disposition"]).endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("№", "Поступило", "Статус", "Блок")
    assert [(r[0], r[3], r[12]) for r in rows[1:]] == [(1, "Дороги", "Яма на дороге")]

    every = await client.get("/api/incidents/export", params={"format": "csv"}, headers=admin)
    assert every.status_code == 200 and every.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(every.content.decode("utf-8-sig")), delimiter=";"))
    assert table[0][0] == "№" and len(table) == 3


async def test_a_sector_head_downloads_only_their_sectors(
    session: AsyncSession, client: httpx.AsyncClient, clock: Clock
) -> None:
    await seed(session, clock)
    head = await login(client, "erokhina")  # heads «Образование»
    response = await client.get("/api/incidents/export", params={"format": "csv"}, headers=head)
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [row[3] for row in table[1:]] == ["Образование"]
    assert (await client.get("/api/incidents/export", params={"format": "pdf"}, headers=head)).status_code == 422
