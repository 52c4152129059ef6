"""Rendering of incident cards, notices and answers into Telegram messages (HTML parse mode)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import texts
from bot.textsplit import clip
from handlers.deadlines import is_overdue
from handlers.incidents import IncidentView
from handlers.noise import REASON_TITLES
from handlers.vocab import ATTACHMENT_TITLES, REPLY_STATES, ROLE_TITLES, SOURCE_KIND_TITLES, STATUS_TITLES
from handlers.worktime import DISTRICT_TZ
from storage.models import Incident, Sector, Source, Staff, Status, Track

TZ = DISTRICT_TZ
CARD_TEXT_BUDGET = 3000  # room for the citizen's words on a card; the rest of the card is short


# Extensions offered on the card, in working days.
EXTENSIONS = (1, 3, 7)


class ExtendCb(CallbackData, prefix="x"):
    incident_id: int
    days: int


class IncidentCb(CallbackData, prefix="i"):
    action: str  # accept, answer, reassign, reject, close, reopen, back, more, urgent, wait, resume, extend…
    incident_id: int


class SectorCb(CallbackData, prefix="s"):
    incident_id: int
    code: str


class SurveyCb(CallbackData, prefix="v"):
    """A citizen's answer to the satisfaction survey: solved yes/no, or a rating 1–5."""

    incident_id: int
    answer: str  # yes | no | 1…5


def survey_keyboard(incident_id: int) -> InlineKeyboardMarkup:
    def button(title: str, answer: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=title, callback_data=SurveyCb(incident_id=incident_id, answer=answer).pack())

    return InlineKeyboardMarkup(inline_keyboard=[[button(texts.BTN_SOLVED, "yes"), button(texts.BTN_UNSOLVED, "no")]])


def rating_keyboard(incident_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=str(n), callback_data=SurveyCb(incident_id=incident_id, answer=str(n)).pack())
        for n in range(1, 6)
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


class DraftCb(CallbackData, prefix="d"):
    action: str  # publish (final), interim, edit, cancel


def when(moment: datetime | None) -> str:
    return moment.astimezone(TZ).strftime(texts.DATETIME_FORMAT) if moment else "—"


def short_name(staff: Staff) -> str:
    """«Волкова Н. Н.» from «Волкова Наталья Николаевна»."""
    parts = staff.full_name.split()
    return " ".join(parts[:1] + [p[0] + "." for p in parts[1:3]]) if parts else staff.full_name


def roles_title(staff: Staff) -> str:
    return ", ".join(ROLE_TITLES.get(r, r) for r in staff.roles)


def attachments_title(items: Iterable[dict[str, Any]]) -> str:
    return ", ".join(ATTACHMENT_TITLES.get(str(a.get("kind")), ATTACHMENT_TITLES["other"]) for a in items)


def quote(text: str, budget: int, *, link: str | None = None) -> str:
    """The citizen's words, escaped for HTML, trimmed to the budget with a note and a link to the whole."""
    if not text.strip():
        return f"<i>{texts.CARD_NO_TEXT}</i>"
    cut, trimmed = clip(text, budget)
    body = f"<blockquote>{escape(cut)}</blockquote>"
    if trimmed:
        body += "\n" + escape(texts.CARD_TEXT_CUT.format(total=len(text)))
        if link:
            body += f' <a href="{escape(link)}">{texts.CARD_FULL_TEXT}</a>'
    return body


def render_card(view: IncidentView, *, now: datetime, admin_url: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    incident = view.incident
    assert incident.id is not None
    lines = [
        f"<b>{texts.CARD_TITLE.format(number=incident.id)}</b>",
        texts.CARD_STATUS.format(status=STATUS_TITLES.get(incident.status, incident.status)),
        texts.CARD_SECTOR.format(sector=escape(view.sector.title)) if view.sector else texts.CARD_TRIAGE,
    ]
    if view.assignee is not None:
        name = escape(short_name(view.assignee))
        if view.assignee.telegram_id is None:
            name = texts.CARD_ASSIGNEE_NOT_LINKED.format(name=name)
        lines.append(texts.CARD_ASSIGNEE.format(name=name))
    source = escape(SOURCE_KIND_TITLES.get(view.source.kind, view.source.kind))
    if view.source.title:
        source += f" «{escape(view.source.title)}»"
    if incident.permalink:
        source += f' · <a href="{escape(incident.permalink)}">{texts.CARD_OPEN_ORIGINAL}</a>'
    lines.append(texts.CARD_SOURCE.format(source=source))
    if view.author is not None:
        author = escape(view.author.name or view.author.external_id)
        if view.author.username:
            author += f" (@{escape(view.author.username)})"
        lines.append(texts.CARD_AUTHOR.format(author=author))
    if incident.settlement:
        lines.append(texts.CARD_SETTLEMENT.format(settlement=escape(incident.settlement)))
    lines.append(texts.CARD_RECEIVED.format(at=when(incident.received_at)))
    if incident.urgent:
        lines.append(texts.CARD_URGENT)
    if incident.track == Track.APPEAL:
        lines.append(texts.CARD_APPEAL)
    if incident.due_at and incident.status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS):
        due = texts.CARD_DUE.get(incident.phase, texts.CARD_DUE["reaction"]).format(at=when(incident.due_at))
        lines.append(due + (texts.CARD_OVERDUE if is_overdue(incident, now) else ""))
    elif incident.status == Status.WAITING and incident.paused_left is not None:
        lines.append(texts.CARD_PAUSED.format(left=duration(incident.paused_left)))
    if incident.attachments:
        lines.append(texts.CARD_ATTACHMENTS.format(items=attachments_title(incident.attachments)))
    if view.followups:
        lines.append(texts.CARD_FOLLOWUPS.format(count=view.followups))
    if view.problem_lead_id == incident.id:
        lines.append(texts.CARD_PROBLEM_LEAD.format(count=view.problem_size))
    elif view.problem_lead_id is not None:
        lines.append(texts.CARD_PROBLEM_MEMBER.format(lead=view.problem_lead_id, count=view.problem_size))
    if incident.status == Status.REJECTED and incident.not_incident_reason:
        reason = REASON_TITLES.get(incident.not_incident_reason, incident.not_incident_reason)
        lines.append(texts.CARD_NOT_INCIDENT.format(reason=escape(reason)))
    if view.last_reply is not None:
        who = escape(short_name(view.last_reply_by)) if view.last_reply_by else "—"
        state = REPLY_STATES.get(view.last_reply.state, view.last_reply.state)
        lines.append(texts.CARD_REPLY.format(who=who, at=when(view.last_reply.created_at), state=state))
    link = incident.permalink or (f"{admin_url.rstrip('/')}/incidents/{incident.id}" if admin_url else None)
    text = "\n".join(lines) + "\n\n" + quote(incident.text, CARD_TEXT_BUDGET, link=link)
    return text, card_keyboard_for(view)


def duration(seconds: int) -> str:
    hours, minutes = divmod(max(seconds, 0) // 60, 60)
    return f"{hours} ч {minutes:02d} мин" if hours else f"{minutes} мин"


def card_keyboard_for(view: IncidentView) -> InlineKeyboardMarkup:
    assert view.incident.id is not None
    return card_keyboard(
        view.incident.id, view.incident.status, suggested=view.suggested, not_incident_p=view.not_incident_p
    )


def card_keyboard(
    incident_id: int,
    status: str,
    *,
    suggested: list[tuple[Sector, float]] | None = None,
    not_incident_p: float | None = None,
) -> InlineKeyboardMarkup:
    def button(title: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=title, callback_data=IncidentCb(action=action, incident_id=incident_id).pack())

    rows: list[list[InlineKeyboardButton]] = []
    if status == Status.NEW:
        # Triage: the officer picks the sector, first from the model's best guesses.
        if not_incident_p is not None:
            rows.append([button(texts.BTN_REJECT_SUGGESTED.format(percent=round(not_incident_p * 100)), "reject")])
        for sector, probability in suggested or []:
            title = texts.BTN_SUGGESTED.format(sector=sector.title, percent=round(probability * 100))
            pick = SectorCb(incident_id=incident_id, code=sector.code).pack()
            rows.append([InlineKeyboardButton(text=title, callback_data=pick)])
    elif status == Status.ASSIGNED:
        rows.append([button(texts.BTN_ACCEPT, "accept"), button(texts.BTN_ANSWER, "answer")])
    elif status in (Status.IN_PROGRESS, Status.ANSWERED):
        rows.append([button(texts.BTN_ANSWER, "answer")])
    elif status == Status.WAITING:
        rows.append([button(texts.BTN_RESUME, "resume"), button(texts.BTN_ANSWER, "answer")])
    if status in (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS):
        rows.append([button(texts.BTN_REASSIGN, "reassign"), button(texts.BTN_REJECT, "reject")])
    if status in (Status.ASSIGNED, Status.IN_PROGRESS):
        rows.append([button(texts.BTN_CLOSE, "close"), button(texts.BTN_MORE, "more")])
    elif status in (Status.NEW, Status.WAITING, Status.ANSWERED):
        rows.append([button(texts.BTN_CLOSE, "close")])
    if status in (Status.REJECTED, Status.CLOSED, Status.DUPLICATE):
        rows.append([button(texts.BTN_REOPEN, "reopen")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def more_keyboard(incident: Incident) -> InlineKeyboardMarkup:
    """The card's second page: urgency, pause, extension, the 59-ФЗ track."""
    assert incident.id is not None

    def button(title: str, action: str) -> list[InlineKeyboardButton]:
        return [
            InlineKeyboardButton(text=title, callback_data=IncidentCb(action=action, incident_id=incident.id).pack())
        ]

    appeal = incident.track == Track.APPEAL
    return InlineKeyboardMarkup(
        inline_keyboard=[
            button(texts.BTN_NOT_URGENT, "not_urgent") if incident.urgent else button(texts.BTN_URGENT, "urgent"),
            button(texts.BTN_WAIT, "wait"),
            button(texts.BTN_EXTEND, "extend"),
            button(texts.BTN_SOCIAL, "social") if appeal else button(texts.BTN_APPEAL, "appeal"),
            button(texts.BTN_BACK, "back"),
        ]
    )


def extend_keyboard(incident_id: int) -> InlineKeyboardMarkup:
    days = [
        InlineKeyboardButton(
            text=texts.BTN_EXTEND_DAYS.format(days=n), callback_data=ExtendCb(incident_id=incident_id, days=n).pack()
        )
        for n in EXTENSIONS
    ]
    back = InlineKeyboardButton(
        text=texts.BTN_BACK, callback_data=IncidentCb(action="more", incident_id=incident_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[days, [back]])


def sectors_keyboard(incident_id: int, sectors: list[Sector], current: str | None) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=s.title, callback_data=SectorCb(incident_id=incident_id, code=s.code).pack())
        for s in sectors
        if s.code != current
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                text=texts.BTN_BACK, callback_data=IncidentCb(action="back", incident_id=incident_id).pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def draft_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=texts.BTN_PUBLISH, callback_data=DraftCb(action="publish").pack())],
            [InlineKeyboardButton(text=texts.BTN_PUBLISH_INTERIM, callback_data=DraftCb(action="interim").pack())],
            [
                InlineKeyboardButton(text=texts.BTN_EDIT, callback_data=DraftCb(action="edit").pack()),
                InlineKeyboardButton(text=texts.BTN_CANCEL, callback_data=DraftCb(action="cancel").pack()),
            ],
        ]
    )


def summary(view: IncidentView) -> str:
    return quote(view.incident.text, 500)


def render_notice(kind: str, view: IncidentView, *, payload: dict[str, Any], extra: str | None = None) -> str:
    number = view.incident.id
    if kind == "followup":
        return texts.NOTICE_FOLLOWUP.format(number=number, text=quote(extra or "", CARD_TEXT_BUDGET))
    if kind == "problem_report":
        return texts.NOTICE_PROBLEM_REPORT.format(
            number=number,
            report=payload.get("report"),
            count=view.problem_size,
            text=quote(extra or "", CARD_TEXT_BUDGET),
        )
    phase = texts.PHASE_DEADLINE.get(payload.get("phase", ""), texts.PHASE_DEADLINE["reaction"])
    due = when(datetime.fromisoformat(payload["due_at"])) if payload.get("due_at") else when(view.incident.due_at)
    if kind == "reminder":
        point = payload.get("point", "")
        template = (
            texts.NOTICE_REMINDER_DUE
            if point == "0"
            else texts.NOTICE_REMINDER_HALF
            if point == "50%"
            else texts.NOTICE_REMINDER
        )
        return template.format(number=number, phase=phase, due=due, summary=summary(view))
    if kind == "escalation":
        return texts.NOTICE_ESCALATION.format(
            phase=phase,
            number=number,
            sector=escape(view.sector.title if view.sector else "—"),
            assignee=escape(short_name(view.assignee)) if view.assignee else "—",
            due=due,
            summary=summary(view),
        )
    if kind == "unsolved":
        return texts.NOTICE_UNSOLVED.format(number=number, due=when(view.incident.due_at), summary=summary(view))
    if kind == "reply_failed":
        return texts.NOTICE_REPLY_FAILED.format(number=number, error=escape(extra or ""))
    raise ValueError(f"unknown notice kind {kind}")


def render_source_failed(source: Source) -> str:
    kind = SOURCE_KIND_TITLES.get(source.kind, source.kind)
    title = f"{kind} «{source.title}»" if source.title else f"{kind} {source.external_id}"
    return texts.NOTICE_SOURCE_FAILED.format(source=escape(title), error=escape(source.error or ""))


DIGEST_LINES = 40


def render_digest(incidents: list[Incident], sectors: dict[str, Sector], *, now: datetime) -> str:
    """The morning list: overdue first (🔴), then those due today (🟡)."""
    overdue = [i for i in incidents if is_overdue(i, now)]
    today = [i for i in incidents if i.due_at is not None and i.due_at > now]
    lines = [
        texts.DIGEST_TITLE.format(date=now.astimezone(TZ).strftime("%d.%m.%Y"), overdue=len(overdue), today=len(today))
    ]
    for incident in (overdue + today)[:DIGEST_LINES]:
        sector = sectors.get(incident.sector_code or "")
        short, trimmed = clip(" ".join(incident.text.split()), 80)
        lines.append(
            texts.DIGEST_LINE.format(
                mark="🔴" if is_overdue(incident, now) else "🟡",
                number=incident.id,
                sector=escape(sector.title if sector else "—"),
                due=when(incident.due_at),
                text=escape(short + ("…" if trimmed else "")) or texts.CARD_NO_TEXT,
            )
        )
    if len(incidents) > DIGEST_LINES:
        lines.append(texts.DIGEST_MORE.format(count=len(incidents) - DIGEST_LINES))
    return "\n".join(lines)
