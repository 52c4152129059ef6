"""The quarterly report for the regional ЦУР (XLSX): incidents received, processed, in time, late and overdue, by
source, sector and settlement, with the rating of the sectors.

**Quarter.** The incidents *received* from the quarter's first Moscow day 00:00 to the next quarter's first day
00:00 (the period rule of `handlers.stats`).

**Figures** of a group of incidents, each counted by the database in one grouped query:

- received: every incident of the quarter (including «не инцидент» and duplicates, as the dashboard counts them);
- processed: of those that are not «не инцидент» or duplicates, the ones answered finally or closed (the
  «finished» of `handlers.ratings`);
- in time and late: by the rule of `handlers.stats` (`judgement`), judged at `now`; the share in time is
  in time / (in time + late);
- overdue now: still chased (`handlers.deadlines.CHASED`) with the running deadline passed at `now`;
- not incidents: marked «не инцидент» (the summary only).

The «Рейтинг» sheet is `handlers.ratings.rate` by sector over the quarter (and the previous quarter's length).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import ratings
from handlers.deadlines import CHASED
from handlers.stats import MSK, NOT_JUDGED, Period, _at, _count, judgement
from handlers.vocab import SOURCE_KIND_TITLES
from storage.models import Incident, Sector, Source, Status

TITLE = "Муниципальный центр управления Троснянского района Орловской области"
NO_SECTOR = "Блок не определён"
NO_SETTLEMENT = "Населённый пункт не определён"
PERCENT = "0.0%"
HOURS = "0.0"
SCORE = "0.0"
FIGURE_HEADERS = ("Поступило", "Обработано", "В срок", "С нарушением срока", "Просрочено сейчас", "Доля в срок")


class BadQuarter(ValueError):
    """A year or quarter that names no quarter; the message is the Russian sentence to show."""


@dataclass(slots=True)
class Counts:
    received: int = 0
    processed: int = 0
    in_time: int = 0
    late: int = 0
    overdue: int = 0
    not_incidents: int = 0

    @property
    def share(self) -> float | None:
        judged = self.in_time + self.late
        return self.in_time / judged if judged else None


@dataclass(slots=True)
class Group:
    title: str
    counts: Counts


def quarter_period(year: int, quarter: int) -> Period:
    """The quarter's Moscow days, first and last included."""
    if not 1 <= quarter <= 4:
        raise BadQuarter("Квартал — число от 1 до 4.")
    if not 2000 <= year <= 2100:
        raise BadQuarter("Год — четыре цифры, от 2000 до 2100.")
    first = date(year, 3 * (quarter - 1) + 1, 1)
    following = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return Period(first=first, last=date.fromordinal(following.toordinal() - 1))


def _columns(now: datetime) -> list[Any]:
    in_time, late = judgement(now)
    status, answered = col(Incident.status), col(Incident.answered_at)
    processed = and_(status.not_in(NOT_JUDGED), or_(answered.is_not(None), status == Status.CLOSED))
    overdue = and_(status.in_(CHASED), col(Incident.due_at) < _at(now))
    return [
        func.count(),
        _count(processed),
        _count(in_time),
        _count(late),
        _count(overdue),
        _count(status == Status.REJECTED),
    ]


def _counts(row: Any) -> Counts:
    return Counts(*(int(value) for value in row))


async def _grouped(
    session: AsyncSession, key: Any, where: list[ColumnElement[bool]], now: datetime
) -> list[tuple[Any, Counts]]:
    rows = await session.exec(select(key, *_columns(now)).where(*where).group_by(key))
    return [(row[0], _counts(row[1:])) for row in rows]


@dataclass(slots=True)
class Quarter:
    year: int
    quarter: int
    period: Period
    now: datetime
    total: Counts
    by_source: list[Group]
    by_sector: list[Group]
    by_settlement: list[Group]
    rating: ratings.Rating


async def quarter_figures(session: AsyncSession, *, year: int, quarter: int, now: datetime) -> Quarter:
    """Every figure of the report, by the rules in the module's docstring."""
    period = quarter_period(year, quarter)
    where: list[ColumnElement[bool]] = [
        col(Incident.received_at) >= _at(period.start),
        col(Incident.received_at) < _at(period.end),
    ]
    total = _counts((await session.exec(select(*_columns(now)).where(*where))).one())

    sources = {s.id: s for s in await session.exec(select(Source))}
    by_source = []
    for source_id, counts in await _grouped(session, col(Incident.source_id), where, now):
        source = sources.get(source_id)
        kind = SOURCE_KIND_TITLES.get(source.kind, source.kind) if source is not None else ""
        name = source.title if source is not None and source.title else ""
        by_source.append(Group(f"{kind}: {name}" if kind and name else kind or name or str(source_id), counts))
    by_source.sort(key=lambda g: (-g.counts.received, g.title))

    sector_counts = dict(await _grouped(session, col(Incident.sector_code), where, now))
    by_sector = [
        Group(s.title, sector_counts.pop(s.code))
        for s in await session.exec(select(Sector).order_by(col(Sector.position), col(Sector.code)))
        if s.code in sector_counts
    ]
    by_sector += [Group(code or NO_SECTOR, counts) for code, counts in sector_counts.items()]

    places = await _grouped(session, col(Incident.settlement), where, now)
    by_settlement = sorted(
        (Group(name or NO_SETTLEMENT, counts) for name, counts in places),
        key=lambda g: (g.title == NO_SETTLEMENT, -g.counts.received, g.title),
    )

    rating = await ratings.rate(session, start=period.start, end=period.end, by="sector", now=now)
    return Quarter(
        year=year,
        quarter=quarter,
        period=period,
        now=now,
        total=total,
        by_source=by_source,
        by_sector=by_sector,
        by_settlement=by_settlement,
        rating=rating,
    )


BOLD = Font(bold=True)


def _header(sheet: Worksheet, headers: tuple[str, ...], widths: tuple[float, ...]) -> None:
    sheet.append(list(headers))
    for cell in sheet[1]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=n).column_letter].width = width
    sheet.freeze_panes = "A2"


def _figures_sheet(book: Workbook, name: str, first: str, groups: list[Group], total: Counts) -> None:
    sheet = book.create_sheet(name)
    _header(sheet, (first, *FIGURE_HEADERS), (48, 12, 12, 10, 14, 14, 12))
    for group in [*groups, Group("Итого", total)]:
        c = group.counts
        sheet.append([group.title, c.received, c.processed, c.in_time, c.late, c.overdue, c.share])
        sheet.cell(row=sheet.max_row, column=7).number_format = PERCENT
    for cell in sheet[sheet.max_row]:
        cell.font = BOLD


def _summary(book: Workbook, data: Quarter) -> None:
    sheet = book.active
    assert sheet is not None
    sheet.title = "Сводка"
    first, last = data.period.first.strftime("%d.%m.%Y"), data.period.last.strftime("%d.%m.%Y")
    sheet["A1"] = TITLE
    sheet["A1"].font = Font(bold=True, size=13)
    sheet["A2"] = f"Отчёт для ЦУР Орловской области за {data.quarter} квартал {data.year} года"
    sheet["A2"].font = BOLD
    sheet["A3"] = f"Период: {first}–{last}"
    sheet["A4"] = "Сформирован: " + data.now.astimezone(MSK).strftime("%d.%m.%Y %H:%M")
    sheet["A6"], sheet["B6"] = "Показатель", "Значение"
    sheet["A6"].font = sheet["B6"].font = BOLD
    t = data.total
    rows: list[tuple[str, int | float | None, str | None]] = [
        ("Поступило сообщений", t.received, None),
        ("Обработано (дан окончательный ответ или закрыто)", t.processed, None),
        ("В срок", t.in_time, None),
        ("С нарушением срока", t.late, None),
        ("Доля в срок", t.share, PERCENT),
        ("Просрочено сейчас", t.overdue, None),
        ("Не инцидент", t.not_incidents, None),
    ]
    for label, value, number_format in rows:
        sheet.append([label, value])
        if number_format:
            sheet.cell(row=sheet.max_row, column=2).number_format = number_format
    sheet.column_dimensions["A"].width = 56
    sheet.column_dimensions["B"].width = 14
    sheet.freeze_panes = "A7"


def _rating(book: Workbook, rating: ratings.Rating) -> None:
    sheet = book.create_sheet("Рейтинг")
    headers = (
        "Место",
        "Блок",
        "Балл",
        "Инцидентов",
        "В срок",
        "С нарушением срока",
        "Доля в срок",
        "До первой реакции, ч",
        "До окончательного ответа, ч",
        "Закрыто без ответа",
        "Доля окончательных ответов",
        "Изменение места",
        "Изменение балла",
    )
    _header(sheet, headers, (8, 36, 8, 12, 10, 14, 12, 14, 16, 14, 16, 12, 12))
    formats = {3: SCORE, 7: PERCENT, 8: HOURS, 9: HOURS, 10: PERCENT, 11: PERCENT, 13: SCORE}
    for row in rating.rows:
        c = row.current
        sheet.append(
            [
                c.rank if c.rank is not None else "—",
                row.title,
                c.score,
                c.count,
                c.in_time,
                c.late,
                c.in_time_share,
                c.reaction_hours,
                c.answer_hours,
                c.closed_unanswered_share,
                c.final_share,
                row.rank_change,
                row.score_change,
            ]
        )
        for column, number_format in formats.items():
            sheet.cell(row=sheet.max_row, column=column).number_format = number_format
    note = sheet.max_row + 2
    sheet.cell(row=note, column=1).value = (
        f"Место получают блоки, у которых за квартал не меньше {ratings.MIN_RANKED} инцидентов; "
        "балл 0–100 — по формуле рейтинга МЦУ; «—» — не ранжируется."
    )


async def quarterly_report(session: AsyncSession, *, year: int, quarter: int, now: datetime) -> bytes:
    """The quarterly report as an XLSX file: «Сводка», «По источникам», «По блокам», «По населённым пунктам»,
    «Рейтинг». Raises BadQuarter for a year or quarter that names none."""
    data = await quarter_figures(session, year=year, quarter=quarter, now=now)
    book = Workbook()
    _summary(book, data)
    _figures_sheet(book, "По источникам", "Источник", data.by_source, data.total)
    _figures_sheet(book, "По блокам", "Блок", data.by_sector, data.total)
    _figures_sheet(book, "По населённым пунктам", "Населённый пункт", data.by_settlement, data.total)
    _rating(book, data.rating)
    out = BytesIO()
    book.save(out)
    return out.getvalue()
