"""The quarterly report for the ЦУР: the XLSX read back cell by cell over a known quarter, its Moscow bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import reports
from handlers.incidents import answer_incident, close_incident, ingest_message, reject_incident
from handlers.types import SourceRef
from storage.models import Source, SourceKind, Staff, Status
from tests.conftest import Clock
from tests.factories import DIRECT, citizen

VK = SourceRef(platform="vk", kind=SourceKind.VK_COMMUNITY, external_id="club77")
VK_TITLE = "Администрация Троснянского района"
SHEETS = ["Сводка", "По источникам", "По блокам", "По населённым пунктам", "Рейтинг"]
HEADERS = ["Поступило", "Обработано", "В срок", "С нарушением срока", "Просрочено сейчас", "Доля в срок"]


async def _ingest(
    session: AsyncSession, clock: Clock, text: str, user: int, sector: str | None, source: SourceRef | None = None
) -> int:
    message = citizen(text, at=clock(), user=user, source=source or DIRECT)
    result = await ingest_message(session, message=message, now=clock())
    assert result.incident is not None and result.incident.id is not None
    assert result.incident.sector_code == sector, text
    return result.incident.id


async def seed(session: AsyncSession, clock: Clock) -> dict[str, int]:
    """The fourth quarter of 2026; the clock is left on Tuesday 24.11, 14:00 in Moscow.

    Outside: O, roads, 30.09 23:00 in Moscow (still the third quarter; 20:00 UTC), untouched.
    Inside: B, roads, 01.10 00:00 in Moscow (21:00 UTC on 30.09), untouched: late and overdue now.
    On 24.11 at 10:00: R1 roads in Жерновец answered after 1 h; L1 improvement from VK answered after 1 h;
    L2 improvement closed after 1 h; L3 improvement answered after 1 h; W1 waste untouched (its deadline still
    ahead: judged neither way);
    X roads rejected («не инцидент»); «Спасибо!» (not an incident, no sector).
    """
    session.add(Source(platform="vk", kind=SourceKind.VK_COMMUNITY, external_id="club77", title=VK_TITLE))
    await session.commit()
    curator = await session.get(Staff, 1)
    assert curator is not None
    start = clock()
    ids: dict[str, int] = {}
    clock.now = datetime(2026, 9, 30, 20, 0, tzinfo=UTC)
    ids["O"] = await _ingest(session, clock, "Огромная яма на дороге, машины бьют колёса", 900, "roads")
    clock.now = datetime(2026, 9, 30, 21, 0, tzinfo=UTC)
    ids["B"] = await _ingest(session, clock, "Разбит асфальт на трассе до трассы М2, ямы", 901, "roads")
    clock.now = start  # Tuesday 24.11, 10:00 in Moscow
    ids["R1"] = await _ingest(session, clock, "В Жерновце огромная яма на дороге, машины бьют колёса", 902, "roads")
    ids["L1"] = await _ingest(session, clock, "Не горит уличный фонарь у остановки", 903, "improvement", VK)
    ids["L2"] = await _ingest(session, clock, "Погасли фонари освещения на улице", 904, "improvement")
    ids["L3"] = await _ingest(session, clock, "Сломан светильник уличного освещения, темно", 908, "improvement")
    ids["W1"] = await _ingest(session, clock, "Не вывозят мусор, контейнеры переполнены", 905, "waste")
    ids["X"] = await _ingest(session, clock, "Яма на дороге у моста, колесо пробил", 906, "roads")
    await reject_incident(session, incident_id=ids["X"], staff=curator, now=clock())
    thanks = await ingest_message(session, message=citizen("Спасибо!", at=clock(), user=907), now=clock())
    assert thanks.incident is not None and thanks.incident.status == Status.REJECTED
    clock.advance(hours=1)
    await answer_incident(session, incident_id=ids["R1"], staff=curator, text="Яму засыпали", now=clock())
    await answer_incident(session, incident_id=ids["L1"], staff=curator, text="Заменили", now=clock())
    await answer_incident(session, incident_id=ids["L3"], staff=curator, text="Починили", now=clock())
    await close_incident(session, incident_id=ids["L2"], staff=curator, now=clock())
    clock.advance(hours=3)  # 14:00
    return ids


def rows(sheet: Worksheet) -> list[list[object]]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def check(book_bytes: bytes) -> None:
    """Every figure of the known quarter, cell by cell (shared by the API test)."""
    book = load_workbook(BytesIO(book_bytes))
    assert book.sheetnames == SHEETS

    summary = book["Сводка"]
    assert summary["A1"].value == reports.TITLE and summary["A1"].font.bold
    assert summary["A2"].value == "Отчёт для ЦУР Орловской области за 4 квартал 2026 года"
    assert summary["A3"].value == "Период: 01.10.2026–31.12.2026"
    assert summary["A4"].value == "Сформирован: 24.11.2026 14:00"
    assert [summary["A6"].value, summary["B6"].value] == ["Показатель", "Значение"]
    assert rows(summary)[6:] == [
        ["Поступило сообщений", 8], ["Обработано (дан окончательный ответ или закрыто)", 4], ["В срок", 4],
        ["С нарушением срока", 1], ["Доля в срок", 0.8], ["Просрочено сейчас", 1], ["Не инцидент", 2],
    ]  # fmt: skip
    assert summary["B11"].number_format == "0.0%"

    sources = book["По источникам"]
    assert rows(sources) == [
        ["Источник", *HEADERS],
        ["Telegram, личные сообщения боту", 7, 3, 3, 1, 1, 0.75],
        [f"VK, сообщество администрации: {VK_TITLE}", 1, 1, 1, 0, 0, 1],
        ["Итого", 8, 4, 4, 1, 1, 0.8],
    ]

    sectors = book["По блокам"]
    assert rows(sectors) == [
        ["Блок", *HEADERS],
        ["Дороги", 3, 1, 1, 1, 1, 0.5],
        ["Благоустройство", 3, 3, 3, 0, 0, 1],
        ["Твердые коммунальные отходы", 1, 0, 0, 0, 0, None],
        ["Блок не определён", 1, 0, 0, 0, 0, None],
        ["Итого", 8, 4, 4, 1, 1, 0.8],
    ]

    places = book["По населённым пунктам"]
    assert rows(places) == [
        ["Населённый пункт", *HEADERS],
        ["Жерновец", 1, 1, 1, 0, 0, 1],
        ["Населённый пункт не определён", 7, 3, 3, 1, 1, 0.75],
        ["Итого", 8, 4, 4, 1, 1, 0.8],
    ]

    for sheet in (sources, sectors, places):
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1]) and all(cell.font.bold for cell in sheet[sheet.max_row])
        assert all(sheet.cell(row=n, column=7).number_format == "0.0%" for n in range(2, sheet.max_row + 1))
        assert sheet.column_dimensions["A"].width == 48

    rating = book["Рейтинг"]
    assert rating.freeze_panes == "A2" and rating["A1"].value == "Место" and rating["A1"].font.bold
    table = rows(rating)
    # Благоустройство: three in time, answered or closed in 1 h; roads (X rejected: two) and waste: not ranked.
    assert [(r[0], r[1], r[3], r[4], r[5]) for r in table[1:4]] == [
        (1, "Благоустройство", 3, 3, 0), ("—", "Дороги", 2, 1, 1), ("—", "Твердые коммунальные отходы", 1, 0, 0)
    ]  # fmt: skip
    assert table[2][6] == 0.5 and rating["G3"].number_format == "0.0%" and rating["C2"].number_format == "0.0"
    # Every term full but «closed without an answer»: one of three finished.
    assert table[1][2] == pytest.approx(100 - 10 * (100 / 3) / 90)
    assert table[1][9] == pytest.approx(1 / 3) and table[1][10] == 1 and table[1][7] == pytest.approx(1)


async def test_the_quarter_read_back_cell_by_cell(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    check(await reports.quarterly_report(session, year=2026, quarter=4, now=clock()))


async def test_the_quarters_bounds_are_moscow_days(session: AsyncSession, clock: Clock) -> None:
    await seed(session, clock)
    third = await reports.quarter_figures(session, year=2026, quarter=3, now=clock())
    assert (third.period.first.isoformat(), third.period.last.isoformat()) == ("2026-07-01", "2026-09-30")
    assert third.period.end == datetime(2026, 9, 30, 21, 0, tzinfo=UTC)
    assert (third.total.received, third.total.late, third.total.overdue) == (1, 1, 1)  # O only, not B
    empty = load_workbook(BytesIO(await reports.quarterly_report(session, year=2026, quarter=1, now=clock())))
    assert rows(empty["По блокам"]) == [["Блок", *HEADERS], ["Итого", 0, 0, 0, 0, 0, None]]
    assert rows(empty["Рейтинг"])[1:2] == [[None] * 13]


@pytest.mark.parametrize(("year", "quarter"), [(2026, 0), (2026, 5), (1999, 1)])
async def test_a_quarter_that_is_none(session: AsyncSession, year: int, quarter: int) -> None:
    with pytest.raises(reports.BadQuarter):
        await reports.quarterly_report(session, year=year, quarter=quarter, now=datetime(2026, 11, 24, tzinfo=UTC))
