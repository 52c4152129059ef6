"""Rendering pages: the templates, the values every page shows (who is logged in, the menu, the CSRF token)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from admin.deps import MANAGERS
from handlers.vocab import AUDIT_FIELDS, AUDIT_TITLES, ROLE_TITLES, STATUS_TITLES, audit_target, audit_value
from handlers.worktime import DISTRICT_TZ
from storage.models import Role, User

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
TZ = DISTRICT_TZ


def when(moment: datetime | None, pattern: str = "%d.%m.%Y %H:%M") -> str:
    return moment.astimezone(TZ).strftime(pattern) if moment else "—"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.globals.update(
    STATUS_TITLES=STATUS_TITLES,
    ROLE_TITLES=ROLE_TITLES,
    AUDIT_TITLES=AUDIT_TITLES,
    AUDIT_FIELDS=AUDIT_FIELDS,
    audit_target=audit_target,
    audit_value=audit_value,
)


def menu(user: User | None) -> list[tuple[str, str]]:
    """The main menu: (address, title), what this role may open."""
    if user is None:
        return []
    items = [("/incidents", "Инциденты"), ("/dashboard", "Сводка")]
    if user.role != Role.SECTOR_HEAD:
        items.append(("/ratings", "Рейтинг"))
    items.append(("/root-causes", "Повторяющиеся проблемы"))
    if user.role in MANAGERS or user.role == Role.OFFICER:
        items.append(("/directory", "Справочник"))
    if user.role in MANAGERS:
        items.append(("/deadlines", "Сроки"))
    if user.role == Role.ADMIN:
        items += [("/users", "Пользователи"), ("/audit", "Журнал")]
    return items


def render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    user: User | None = getattr(request.state, "user", None)
    context.update(
        user=user,
        csrf=getattr(request.state, "csrf", ""),
        menu=menu(user),
        path=request.url.path,
    )
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)
