"""Pages: deadline policies, working hours, reminder points, the digest time and the working calendar."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import date, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from admin.api import deadlines as api
from admin.deps import MANAGERS, CurrentUser, Now, SessionDep
from admin.web.common import render
from admin.web.directory import attempt, back, may, refuse_page
from handlers.deadlines import POLICY_TRACKS
from handlers.directory import list_sectors
from handlers.vocab import SOURCE_KIND_TITLES
from storage.models import User

router = APIRouter(include_in_schema=False)

TITLE = "Сроки"
TRACK_NAMES = {"social": "обычный", "urgent": "срочный", "appeal": "обращение по 59-ФЗ"}
DONE = {
    "policy": "Политика сроков сохранена: новые сроки считаются по ней.",
    "policy_deleted": "Политика сроков удалена.",
    "settings": "Рабочее время и напоминания сохранены.",
    "day": "День календаря сохранён.",
    "day_removed": "Исключение снято: день идёт по производственному календарю.",
}


def hours(minutes: int | None) -> str:
    """Minutes as hours for the forms: 480 → «8», 90 → «1,5»."""
    if minutes is None:
        return ""
    return f"{minutes / 60:g}".replace(".", ",")


def _minutes(value: str, what: str, *, required: bool) -> int | None:
    value = value.strip().replace(",", ".")
    if not value:
        if required:
            raise ValueError(f"{what}: укажите число часов.")
        return None
    try:
        amount = float(value)
    except ValueError:
        raise ValueError(f"{what}: нужно число часов, например 8 или 1,5.") from None
    if amount <= 0:
        raise ValueError(f"{what}: срок должен быть больше нуля.")
    return round(amount * 60)


async def _page(
    request: Request, session: SessionDep, user: User, *, error: str = "", done: str = "", status_code: int = 200
) -> Response:
    return render(
        request,
        "deadlines.html",
        status_code=status_code,
        title=TITLE,
        error=error,
        notice=DONE.get(done, ""),
        policies=await api.policies_list(session, user),
        settings=await api.settings_read(session, user),
        days=await api.calendar_days(session, user),
        sectors=await list_sectors(session),
        tracks=POLICY_TRACKS,
        track_names=TRACK_NAMES,
        kind_titles=SOURCE_KIND_TITLES,
        hours=hours,
    )


async def _finish(request: Request, session: SessionDep, user: User, result: object, done: str) -> Response:
    if isinstance(result, str):
        return await _page(request, session, user, error=result, status_code=422)
    return back("/deadlines", done)


@router.get("/deadlines")
async def deadlines_page(request: Request, session: SessionDep, user: CurrentUser, done: str = "") -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    return await _page(request, session, user, done=done)


def _policy(
    track: Annotated[str, Form()] = "social",
    source_kind: Annotated[str, Form()] = "",
    sector_code: Annotated[str, Form()] = "",
    reaction_hours: Annotated[str, Form()] = "",
    reaction_working: Annotated[bool, Form()] = False,
    answer_hours: Annotated[str, Form()] = "",
    answer_working: Annotated[bool, Form()] = False,
    note: Annotated[str, Form()] = "",
) -> api.PolicyIn | str:
    """The policy form of adding and of saving; hours that are not a number come back as the form's error."""
    try:
        return api.PolicyIn(
            track=track,
            source_kind=source_kind or None,
            sector_code=sector_code or None,
            reaction_minutes=_minutes(reaction_hours, "Срок реакции", required=False),
            reaction_working=reaction_working,
            answer_minutes=_minutes(answer_hours, "Срок ответа", required=True) or 0,
            answer_working=answer_working,
            note=note.strip(),
        )
    except ValueError as error:
        return str(error)


PolicyForm = Annotated[api.PolicyIn | str, Depends(_policy)]


@router.post("/deadlines/policies")
async def policy_add(request: Request, session: SessionDep, user: CurrentUser, now: Now, body: PolicyForm) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    if isinstance(body, str):
        return await _finish(request, session, user, body, "")
    result = await attempt(session, user, api.policy_create(body, session, user, now))
    return await _finish(request, session, user, result, "policy")


@router.post("/deadlines/policies/{policy_id}")
async def policy_save(
    request: Request, policy_id: int, session: SessionDep, user: CurrentUser, now: Now, body: PolicyForm
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    if isinstance(body, str):
        return await _finish(request, session, user, body, "")
    result = await attempt(session, user, api.policy_update(policy_id, body, session, user, now))
    return await _finish(request, session, user, result, "policy")


@router.post("/deadlines/policies/{policy_id}/delete")
async def policy_remove(request: Request, policy_id: int, session: SessionDep, user: CurrentUser, now: Now) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    result = await attempt(session, user, api.policy_delete(policy_id, session, user, now))
    return await _finish(request, session, user, result, "policy_deleted")


@router.post("/deadlines/settings")
async def settings_save(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    tz: Annotated[str, Form()] = "Europe/Moscow",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    lunch_start: Annotated[str, Form()] = "",
    lunch_end: Annotated[str, Form()] = "",
    reminder_points: Annotated[str, Form()] = "",
    digest_time: Annotated[str, Form()] = "",
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    body = api.DeadlineSettings(
        tz=tz.strip(),
        start=start.strip(),
        end=end.strip(),
        lunch_start=lunch_start.strip() or None,
        lunch_end=lunch_end.strip() or None,
        reminder_points=reminder_points,
        digest_time=digest_time.strip(),
    )
    result = await attempt(session, user, api.settings_write(body, session, user, now))
    return await _finish(request, session, user, result, "settings")


def _clock(value: str, what: str) -> time | None:
    value = value.strip()
    if not value:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: время в виде ЧЧ:ММ, например 09:00.") from None


@router.post("/deadlines/days")
async def day_save(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    day: Annotated[str, Form()] = "",
    working: Annotated[bool, Form()] = False,
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    try:
        when = date.fromisoformat(day.strip())
    except ValueError:
        return await _finish(request, session, user, "Дата в виде ГГГГ-ММ-ДД, например 2026-12-30.", "")
    try:
        body = api.CalendarDayIn(
            working=working, start=_clock(start, "Начало"), end=_clock(end, "Конец"), note=note.strip()
        )
    except ValueError as error:
        return await _finish(request, session, user, str(error), "")
    result = await attempt(session, user, api.calendar_day_set(when, body, session, user, now))
    return await _finish(request, session, user, result, "day")


@router.post("/deadlines/days/{day}/delete")
async def day_remove(request: Request, day: date, session: SessionDep, user: CurrentUser, now: Now) -> Response:
    if not may(user, MANAGERS):
        return refuse_page(request, "deadlines.html", TITLE)
    result = await attempt(session, user, api.calendar_day_remove(day, session, user, now))
    return await _finish(request, session, user, result, "day_removed")
