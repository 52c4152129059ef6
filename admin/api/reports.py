"""Reports to download: the quarterly report for the regional ЦУР (XLSX)."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from admin.deps import Now, SessionDep, require
from handlers import reports
from storage.models import Role, User

router = APIRouter(prefix="/api/reports", tags=["reports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The МЦУ's people: a sector head would see the others' figures.
Reporter = Annotated[User, Depends(require(Role.ADMIN, Role.MCU_HEAD, Role.CURATOR, Role.OFFICER))]


def _number(value: str, message: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message) from None


def attachment(name: str, fallback: str) -> str:
    """A Content-Disposition with an ASCII fallback and the Russian name by RFC 5987."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"


@router.get(
    "/quarterly",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The XLSX file"}},
)
async def quarterly(
    session: SessionDep,
    user: Reporter,
    now: Now,
    year: Annotated[str, Query(description="The year, e.g. 2026")] = "",
    quarter: Annotated[str, Query(description="The quarter, 1..4")] = "",
) -> Response:
    """The quarterly report for the ЦУР: received, processed, in time, late and overdue incidents in total, by
    source, sector and settlement, and the sectors' rating (see handlers.reports)."""
    number = _number(year, "Год — четыре цифры, от 2000 до 2100.")
    part = _number(quarter, "Квартал — число от 1 до 4.")
    try:
        content = await reports.quarterly_report(session, year=number, quarter=part, now=now)
    except reports.BadQuarter as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from None
    name = f"Отчёт для ЦУР за {part} квартал {number} года.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": attachment(name, f"cur-report-{number}-q{part}.xlsx")},
    )
