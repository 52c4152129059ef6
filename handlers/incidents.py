"""Incidents: idempotent intake of citizen messages, status changes through one table, answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import and_, col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import deadlines, noise, outbox, problems
from handlers.directory import find_source, get_staff_chat, is_coordinator
from handlers.errors import IllegalTransition, InvalidInput, NotAllowed, NotFound
from handlers.routing import FALLBACK_SECTOR, NOT_INCIDENT, model_guesses, route_text
from handlers.settlements import recognise_settlement
from handlers.types import CitizenMessage
from handlers.vocab import STATUS_TITLES
from storage.models import (
    OPEN_STATUSES,
    Author,
    CardMessage,
    Incident,
    IncidentEvent,
    IncidentMessage,
    Outbox,
    OutboxState,
    Phase,
    Reply,
    RoutingExample,
    Sector,
    Source,
    SourceKind,
    Staff,
    Status,
    Track,
    searchable,
)

log = logging.getLogger(__name__)

# Which status may follow which. Everything that changes a status goes through `_move`.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ASSIGNED, Status.REJECTED, Status.CLOSED, Status.DUPLICATE}),
    Status.ASSIGNED: frozenset(
        {
            Status.ASSIGNED,
            Status.IN_PROGRESS,
            Status.WAITING,
            Status.ANSWERED,
            Status.REJECTED,
            Status.CLOSED,
            Status.DUPLICATE,
        }
    ),
    Status.IN_PROGRESS: frozenset(
        {Status.ASSIGNED, Status.WAITING, Status.ANSWERED, Status.REJECTED, Status.CLOSED, Status.DUPLICATE}
    ),
    # Ждём ответа жителя: the clock is paused until the citizen writes or staff go on.
    Status.WAITING: frozenset(
        {Status.ASSIGNED, Status.IN_PROGRESS, Status.ANSWERED, Status.REJECTED, Status.CLOSED, Status.DUPLICATE}
    ),
    Status.ANSWERED: frozenset({Status.ANSWERED, Status.IN_PROGRESS, Status.CLOSED}),
    # Reopened: back to its sector, or to triage when it never had one.
    Status.CLOSED: frozenset({Status.ASSIGNED, Status.NEW}),
    Status.REJECTED: frozenset({Status.ASSIGNED, Status.NEW}),
    Status.DUPLICATE: frozenset({Status.ASSIGNED, Status.NEW}),
}

ACTION_TITLES = {
    "accept": "принять в работу",
    "reassign": "передать в другой блок",
    "answer": "ответить",
    "reject": "отметить «не инцидент»",
    "close": "закрыть",
    "reopen": "открыть снова",
    "wait": "ждать ответа жителя",
    "resume": "вернуть в работу",
}

MAX_TEXT = 100_000  # a platform sends far less; anything longer is kept up to this and marked


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _move(incident: Incident, target: str, *, action: str) -> str:
    current = incident.status
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(
            f"Нельзя {ACTION_TITLES[action]}: инцидент № {incident.id} — {STATUS_TITLES.get(current, current)}.",
            current=current,
            target=target,
        )
    incident.status = target
    return current


def _event(incident: Incident, kind: str, now: datetime, staff: Staff | None = None, **data: Any) -> IncidentEvent:
    assert incident.id is not None
    return IncidentEvent(incident_id=incident.id, at=now, kind=kind, staff_id=staff.id if staff else None, data=data)


@dataclass(slots=True)
class IngestResult:
    incident: Incident | None
    created: bool = False
    followup: bool = False
    duplicate: bool = False
    ignored: bool = False


async def _source(session: AsyncSession, message: CitizenMessage) -> Source | None:
    ref = message.source
    source = await find_source(session, platform=ref.platform, external_id=ref.external_id)
    if source is None and ref.kind == SourceKind.TG_DIRECT:
        # The bot's own private chats need no registration: every citizen may write to the bot.
        source = Source(platform=ref.platform, kind=ref.kind, external_id=ref.external_id, title=ref.title, ack=True)
        session.add(source)
        await session.flush()
    if source is None or not source.active:
        return None
    return source


async def _author(session: AsyncSession, message: CitizenMessage) -> Author:
    ref = message.author
    author = (
        await session.exec(select(Author).where(Author.platform == ref.platform, Author.external_id == ref.external_id))
    ).first()
    if author is None:
        author = Author(platform=ref.platform, external_id=ref.external_id)
    author.name, author.username, author.profile_url = ref.name, ref.username, ref.profile_url
    session.add(author)
    await session.flush()
    return author


async def _recipients(session: AsyncSession, incident: Incident) -> list[int]:
    """Telegram chats that get the incident's card: the assignee, the sector's chat, the officer's staff chat."""
    chats: list[int] = []
    if incident.assignee_id is not None:
        assignee = await session.get(Staff, incident.assignee_id)
        if assignee is not None and assignee.active and assignee.telegram_id is not None:
            chats.append(assignee.telegram_id)
    if incident.sector_code is not None:
        sector = await session.get(Sector, incident.sector_code)
        if sector is not None and sector.chat_id is not None:
            chats.append(sector.chat_id)
    staff_chat = await get_staff_chat(session)
    if staff_chat is not None:
        chats.append(staff_chat)
    return list(dict.fromkeys(chats))


async def _chats_without_card(session: AsyncSession, incident: Incident) -> list[int]:
    posted = set(await session.exec(select(CardMessage.chat_id).where(CardMessage.incident_id == incident.id)))
    queued = await session.exec(
        select(Outbox.chat_id).where(
            Outbox.incident_id == incident.id, Outbox.kind == outbox.CARD, Outbox.state == OutboxState.PENDING
        )
    )
    posted.update(queued)
    return [chat for chat in await _recipients(session, incident) if str(chat) not in posted]


async def _assign(session: AsyncSession, incident: Incident, sector_code: str) -> None:
    sector = await session.get(Sector, sector_code) or await session.get(Sector, FALLBACK_SECTOR)
    incident.sector_code = sector.code if sector else None
    incident.assignee_id = sector.head_id if sector else None


async def ingest_message(session: AsyncSession, *, message: CitizenMessage, now: datetime) -> IngestResult:
    """Log a citizen message: a new incident, a follow-up of an open one, or nothing if already seen."""
    try:
        return await _ingest(session, message=message, now=now)
    except IntegrityError:
        # The same message arrived twice at once: the other delivery won, this one is a duplicate.
        await session.rollback()
        return await _ingest(session, message=message, now=now)


async def _ingest(session: AsyncSession, *, message: CitizenMessage, now: datetime) -> IngestResult:
    source = await _source(session, message)
    if source is None:
        await session.rollback()
        return IngestResult(incident=None, ignored=True)
    assert source.id is not None
    seen = (
        await session.exec(
            select(IncidentMessage).where(
                IncidentMessage.source_id == source.id, IncidentMessage.external_ref == message.external_id
            )
        )
    ).first()
    if seen is not None:
        incident_id = seen.incident_id
        await session.rollback()
        return IngestResult(incident=await session.get(Incident, incident_id), duplicate=True)

    author = await _author(session, message)
    text = _clip(message.text)
    attachments = [asdict(a) for a in message.attachments]
    open_incident = (
        await session.exec(
            select(Incident)
            .where(
                Incident.source_id == source.id,
                Incident.thread_ref == message.thread_id,
                Incident.author_id == author.id,
                col(Incident.status).in_(OPEN_STATUSES),
            )
            .order_by(col(Incident.id).desc())
            .limit(1)
        )
    ).first()
    if open_incident is not None:
        return await _attach_followup(session, open_incident, message, author, text, attachments, now)

    routing = await route_text(session, text=text, source_kind=source.kind, has_attachments=bool(attachments))
    incident = Incident(
        source_id=source.id,
        external_ref=message.external_id,
        thread_ref=message.thread_id,
        chat_ref=message.chat_id,
        message_ref=message.message_id,
        author_id=author.id,
        text=text,
        attachments=attachments,
        permalink=message.permalink,
        received_at=message.sent_at,
        classified_by=routing.classified_by,
        confidence=routing.confidence,
        rule_id=routing.rule_id,
        settlement=await recognise_settlement(session, text=text),
        private=message.private,
        updated_at=now,
    )
    session.add(incident)
    await session.flush()
    assert incident.id is not None
    first = _message(incident, message, author, text, attachments)
    session.add(first)
    session.add(_event(incident, "received", now, source=source.kind, external_ref=message.external_id))
    lead: Incident | None = None
    if routing.not_incident:
        # Plainly not an incident (thanks, spam…): logged with the reason, shown to the officer, one tap to undo.
        _move(incident, Status.REJECTED, action="reject")
        incident.not_incident_reason, incident.closed_at = routing.not_incident, now
        session.add(_event(incident, "rejected", now, reason=routing.not_incident, rule_id=routing.rule_id))
    elif routing.suggestions:
        # Triage: the incident waits in the officer's staff chat, with the model's guesses as buttons.
        incident.suggestions = [{"sector": s, "p": p} for s, p in routing.suggestions]
        if routing.not_incident_p is not None:
            incident.suggestions.insert(0, {"sector": NOT_INCIDENT, "p": routing.not_incident_p})
        session.add(_event(incident, "triage", now, suggestions=incident.suggestions))
    else:
        await _assign(session, incident, routing.sector_code or FALLBACK_SECTOR)
        _move(incident, Status.ASSIGNED, action="reassign")
        session.add(
            _event(
                incident, "routed", now, sector=incident.sector_code, by=routing.classified_by, rule_id=routing.rule_id
            )
        )
        peer = await problems.find_peer(session, incident)
        if peer is not None:
            lead = await problems.join(session, incident, peer, now)
            incident.assignee_id = lead.assignee_id
            session.add(_event(incident, "grouped", now, problem_id=incident.problem_id, lead_id=lead.id))
            session.add(_event(lead, "problem_report", now, incident_id=incident.id))
    if incident.status != Status.REJECTED:
        # A report of a known problem is chased through the problem's lead: its deadline, no reminders.
        await deadlines.start_clock(session, incident, now=now, remind=lead is None)
    if lead is None:
        for chat in await _recipients(session, incident):
            outbox.enqueue(session, kind=outbox.CARD, chat_id=chat, incident_id=incident.id, now=now)
    else:
        # No card of its own: the lead's card counts it, and whoever has that card sees the new report's text.
        assert lead.id is not None
        await session.flush()
        for chat in await _recipients(session, lead):
            outbox.enqueue(
                session,
                kind=outbox.PROBLEM_REPORT,
                chat_id=chat,
                incident_id=lead.id,
                payload={"message_id": first.id, "report": incident.id},
                now=now,
            )
        await outbox.enqueue_card_updates(session, incident_id=lead.id, now=now)
    if routing.not_incident == noise.GREETING and message.private and source.can_reply:
        # A hello in a dialog is not an incident, but the citizen is about to ask something: invite them to.
        outbox.enqueue(
            session,
            kind=outbox.PROMPT,
            platform=source.platform,
            chat_id=message.chat_id,
            incident_id=incident.id,
            now=now,
        )
    if incident.status != Status.REJECTED and _acknowledge(source, message):
        outbox.enqueue(
            session,
            kind=outbox.ACK,
            platform=source.platform,
            chat_id=message.chat_id,
            incident_id=incident.id,
            now=now,
        )
    await session.commit()
    log.info("incident %s from %s routed to %s", incident.id, source.kind, incident.sector_code)
    return IngestResult(incident=incident, created=True)


def _message(
    incident: Incident, message: CitizenMessage, author: Author, text: str, attachments: list[dict[str, Any]]
) -> IncidentMessage:
    assert incident.id is not None
    return IncidentMessage(
        incident_id=incident.id,
        source_id=incident.source_id,
        external_ref=message.external_id,
        author_id=author.id,
        text=text,
        attachments=attachments,
        permalink=message.permalink,
        received_at=message.sent_at,
    )


def _acknowledge(source: Source, message: CitizenMessage) -> bool:
    """Tell the citizen the number? A source's switch decides; in the VK community, which has both dialogs
    and wall comments, only dialogs get it: a public comment is not answered by a robot."""
    if not (source.ack and source.can_reply):
        return False
    return message.private or source.kind != SourceKind.VK_COMMUNITY


async def _attach_followup(
    session: AsyncSession,
    incident: Incident,
    message: CitizenMessage,
    author: Author,
    text: str,
    attachments: list[dict[str, Any]],
    now: datetime,
) -> IngestResult:
    assert incident.id is not None
    item = _message(incident, message, author, text, attachments)
    session.add(item)
    await session.flush()
    # Answers go to the newest message of the thread, so the citizen sees them under what they wrote last.
    incident.chat_ref, incident.message_ref = message.chat_id, message.message_id
    incident.updated_at = now
    session.add(incident)
    session.add(_event(incident, "followup", now, message_id=item.id, external_ref=message.external_id))
    if incident.status == Status.WAITING:
        # The citizen answered what staff were waiting for: the deadline runs again.
        await _resume(session, incident, now, by_citizen=True)
    for chat in await _recipients(session, incident):
        outbox.enqueue(
            session,
            kind=outbox.FOLLOWUP,
            chat_id=chat,
            incident_id=incident.id,
            payload={"message_id": item.id},
            now=now,
        )
    await outbox.enqueue_card_updates(session, incident_id=incident.id, now=now)
    await session.commit()
    return IngestResult(incident=incident, followup=True)


async def edit_message(
    session: AsyncSession, *, platform_source_id: str, platform: str, external_id: str, text: str, now: datetime
) -> Incident | None:
    """A citizen edited a message already logged: keep the new text, note the old one in the timeline."""
    row = await _message_row(session, platform=platform, platform_source_id=platform_source_id, external_id=external_id)
    if row is None:
        return None
    item, incident = row
    text = _clip(text)
    if item.text == text:
        return incident
    assert incident.id is not None
    session.add(_event(incident, "edited", now, message_id=item.id, old_text=item.text))
    if incident.external_ref == external_id:
        incident.text = text
    item.text, item.edited_at, incident.updated_at = text, now, now
    session.add_all([item, incident])
    await outbox.enqueue_card_updates(session, incident_id=incident.id, now=now)
    await session.commit()
    return incident


async def delete_message(
    session: AsyncSession, *, platform_source_id: str, platform: str, external_id: str, now: datetime
) -> Incident | None:
    """A citizen deleted a logged message: note it; the text stays, the incident is not lost."""
    row = await _message_row(session, platform=platform, platform_source_id=platform_source_id, external_id=external_id)
    if row is None:
        return None
    item, incident = row
    if item.deleted_at is None:
        item.deleted_at = now
        session.add_all([item, _event(incident, "deleted", now, message_id=item.id)])
        assert incident.id is not None
        await outbox.enqueue_card_updates(session, incident_id=incident.id, now=now)
        await session.commit()
    return incident


async def _message_row(
    session: AsyncSession, *, platform: str, platform_source_id: str, external_id: str
) -> tuple[IncidentMessage, Incident] | None:
    row = (
        await session.exec(
            select(IncidentMessage, Incident)
            .join(Source, col(Source.id) == IncidentMessage.source_id)
            .join(Incident, col(Incident.id) == IncidentMessage.incident_id)
            .where(
                Source.platform == platform,
                Source.external_id == platform_source_id,
                IncidentMessage.external_ref == external_id,
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def _load(session: AsyncSession, incident_id: int) -> Incident:
    incident = await session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Инцидент № {incident_id} не найден.")
    return incident


async def _check_may_act(session: AsyncSession, staff: Staff, incident: Incident) -> None:
    if is_coordinator(staff):
        return
    if incident.assignee_id == staff.id:
        return
    if incident.sector_code is not None:
        sector = await session.get(Sector, incident.sector_code)
        if sector is not None and sector.head_id == staff.id:
            return
    raise NotAllowed(f"Инцидент № {incident.id} относится к другому блоку: действовать по нему вы не можете.")


async def check_may_act(session: AsyncSession, *, incident_id: int, staff: Staff) -> Incident:
    """The incident, if this staff member may act on it; a polite refusal otherwise."""
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    return incident


async def _replyable_source(session: AsyncSession, incident: Incident) -> Source:
    source = await session.get(Source, incident.source_id)
    if source is None or not source.can_reply:
        raise InvalidInput("В этом источнике бот не может публиковать ответы: ответьте жителю вручную.")
    return source


async def check_may_answer(session: AsyncSession, *, incident_id: int, staff: Staff) -> Incident:
    """Before asking for an answer's text: may this person answer, and can the answer be published there?"""
    incident = await check_may_act(session, incident_id=incident_id, staff=staff)
    await _replyable_source(session, incident)
    if Status.ANSWERED not in TRANSITIONS.get(incident.status, frozenset()):
        _move(incident, Status.ANSWERED, action="answer")  # raises the polite refusal
    return incident


def _react(incident: Incident, now: datetime) -> None:
    if incident.first_reaction_at is None:
        incident.first_reaction_at = now


async def _finish(session: AsyncSession, incident: Incident, now: datetime) -> Incident:
    assert incident.id is not None
    if incident.status not in deadlines.CHASED:
        # Answered, closed, paused: its reminders leave the queue now rather than when they come due.
        await deadlines.cancel_reminders(session, incident, now)
    incident.updated_at = now
    session.add(incident)
    await outbox.enqueue_card_updates(session, incident_id=incident.id, now=now)
    await session.commit()
    return incident


async def accept_incident(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    # Not a reaction: the citizen sees nothing yet, so the reaction deadline keeps running until an answer.
    _move(incident, Status.IN_PROGRESS, action="accept")
    incident.assignee_id = staff.id
    session.add(_event(incident, "accepted", now, staff))
    for other in await problems.followers(session, incident, statuses=(Status.ASSIGNED,)):
        _move(other, Status.IN_PROGRESS, action="accept")
        other.assignee_id, other.updated_at = staff.id, now
        session.add_all([other, _event(other, "accepted", now, staff, lead_id=incident.id)])
    return await _finish(session, incident, now)


async def reassign_incident(
    session: AsyncSession, *, incident_id: int, sector_code: str, staff: Staff, now: datetime
) -> Incident:
    """Send the incident to another sector's head; the deadline stays: the citizen's wait does not restart."""
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    sector = await session.get(Sector, sector_code)
    if sector is None or not sector.active:
        raise InvalidInput("Такого блока нет в справочнике.")
    if sector.code == incident.sector_code:
        raise InvalidInput(f"Инцидент № {incident.id} уже в блоке «{sector.title}».")
    old_sector = incident.sector_code
    _move(incident, Status.ASSIGNED, action="reassign")
    incident.sector_code, incident.assignee_id = sector.code, sector.head_id
    incident.classified_by = "manual"
    session.add(_event(incident, "reassigned", now, staff, old_sector=old_sector, sector=sector.code))
    await _learn(session, incident, sector.code, now)
    for other in await problems.followers(session, incident, statuses=(Status.ASSIGNED, Status.IN_PROGRESS)):
        _move(other, Status.ASSIGNED, action="reassign")
        other.sector_code, other.assignee_id, other.updated_at = sector.code, sector.head_id, now
        session.add_all([other, _event(other, "reassigned", now, staff, old_sector=old_sector, sector=sector.code)])
    await session.flush()
    # Cards already posted update in place; the new head gets a card of their own.
    for chat in await _chats_without_card(session, incident):
        outbox.enqueue(session, kind=outbox.CARD, chat_id=chat, incident_id=incident.id, now=now)
    return await _finish(session, incident, now)


async def _end(
    session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime, target: str, action: str
) -> Incident:
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    _move(incident, target, action=action)
    incident.closed_at = now
    _react(incident, now)
    if target == Status.REJECTED:
        incident.not_incident_reason = noise.STAFF
        await _learn(session, incident, NOT_INCIDENT, now)
    session.add(_event(incident, target, now, staff))
    for other in await problems.followers(session, incident, statuses=OPEN_STATUSES):
        if target in TRANSITIONS[other.status]:
            _move(other, target, action=action)
            other.closed_at, other.updated_at = now, now
            other.not_incident_reason = incident.not_incident_reason
            session.add_all([other, _event(other, target, now, staff, lead_id=incident.id)])
    return await _finish(session, incident, now)


async def _learn(session: AsyncSession, incident: Incident, sector_code: str, now: datetime) -> None:
    """A staff correction of routing is a labelled example; only the latest choice per incident counts."""
    if not incident.text.strip():
        return
    for earlier in await session.exec(select(RoutingExample).where(RoutingExample.incident_id == incident.id)):
        await session.delete(earlier)
    session.add(
        RoutingExample(
            text=incident.text, sector_code=sector_code, origin="correction", incident_id=incident.id, created_at=now
        )
    )


async def reject_incident(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    """«Не инцидент»: the message needs no answer; it stays logged and can be reopened."""
    return await _end(session, incident_id=incident_id, staff=staff, now=now, target=Status.REJECTED, action="reject")


async def reopen_incident(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    """Undo «не инцидент» or a close: back to the sector's head, or to triage when no sector was ever chosen."""
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    if incident.status not in (Status.CLOSED, Status.REJECTED, Status.DUPLICATE):
        raise IllegalTransition(
            f"Инцидент № {incident.id} и так в работе: {STATUS_TITLES[incident.status]}.",
            current=incident.status,
            target=Status.ASSIGNED,
        )
    if incident.sector_code is not None:
        _move(incident, Status.ASSIGNED, action="reopen")
        sector = await session.get(Sector, incident.sector_code)
        incident.assignee_id = sector.head_id if sector is not None else None
    else:
        _move(incident, Status.NEW, action="reopen")
        guesses, _ = model_guesses(incident.text)
        incident.suggestions = [{"sector": s, "p": p} for s, p in guesses]
    incident.closed_at, incident.not_incident_reason = None, None
    session.add(_event(incident, "reopened", now, staff))
    # «Не инцидент» was a mistake: it must not teach the model.
    for example in await session.exec(
        select(RoutingExample).where(
            RoutingExample.incident_id == incident.id, RoutingExample.sector_code == NOT_INCIDENT
        )
    ):
        await session.delete(example)
    # The citizen has waited since the message came: its deadline stands, only reminders still ahead are sent.
    await deadlines.restart_clock(session, incident, now=now)
    await session.flush()
    for chat in await _chats_without_card(session, incident):
        outbox.enqueue(session, kind=outbox.CARD, chat_id=chat, incident_id=incident.id, now=now)
    return await _finish(session, incident, now)


async def close_incident(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    return await _end(session, incident_id=incident_id, staff=staff, now=now, target=Status.CLOSED, action="close")


async def answer_incident(
    session: AsyncSession, *, incident_id: int, staff: Staff, text: str, now: datetime, final: bool = True
) -> Reply:
    """Record a staff answer and ask for it to be published where the citizen wrote."""
    text = text.strip()
    if not text:
        raise InvalidInput("Ответ пустой: напишите текст ответа.")
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    source = await _replyable_source(session, incident)
    if final:
        _move(incident, Status.ANSWERED, action="answer")
        incident.answered_at = now
    else:
        # An interim answer: the citizen has a reaction; the final answer's deadline starts now.
        if incident.status != Status.IN_PROGRESS:
            _move(incident, Status.IN_PROGRESS, action="answer")
        incident.paused_left = None
        await deadlines.answer_clock(session, incident, now=now)
    _react(incident, now)
    reply = await _publish(session, incident, source, staff=staff, text=text, final=final, now=now)
    # One answer for the whole problem: every citizen who reported it gets it where they wrote.
    for other in await problems.followers(session, incident, statuses=(*deadlines.CHASED, Status.WAITING)):
        if final:
            _move(other, Status.ANSWERED, action="answer")
            other.answered_at = now
        elif other.status != Status.IN_PROGRESS:
            _move(other, Status.IN_PROGRESS, action="answer")
        other.phase, other.due_at, other.paused_left = incident.phase, incident.due_at, None
        _react(other, now)
        other.updated_at = now
        session.add(other)
        other_source = await session.get(Source, other.source_id)
        if other_source is not None and other_source.can_reply:
            await _publish(session, other, other_source, staff=staff, text=text, final=final, now=now, lead=incident)
        else:
            session.add(_event(other, "answered", now, staff, lead_id=incident.id, published=False))
    await _finish(session, incident, now)
    return reply


async def _publish(
    session: AsyncSession,
    incident: Incident,
    source: Source,
    *,
    staff: Staff,
    text: str,
    final: bool,
    now: datetime,
    lead: Incident | None = None,
) -> Reply:
    assert incident.id is not None
    reply = Reply(incident_id=incident.id, staff_id=staff.id, text=text, is_final=final, created_at=now)
    session.add(reply)
    await session.flush()
    data: dict[str, Any] = {"reply_id": reply.id, "final": final}
    if lead is not None:
        data["lead_id"] = lead.id
    session.add(_event(incident, "answered", now, staff, **data))
    outbox.enqueue(
        session,
        kind=outbox.REPLY,
        platform=source.platform,
        chat_id=incident.chat_ref,
        incident_id=incident.id,
        reply_id=reply.id,
        now=now,
    )
    return reply


async def mark_reply_published(
    session: AsyncSession, *, reply_id: int, platform_message_id: str | None, now: datetime
) -> None:
    reply = await session.get(Reply, reply_id)
    if reply is None:
        return
    reply.state, reply.published_at, reply.platform_message_id = "published", now, platform_message_id
    incident = await _load(session, reply.incident_id)
    session.add_all([reply, _event(incident, "reply_published", now, reply_id=reply.id)])
    source = await session.get(Source, incident.source_id)
    if reply.is_final and source is not None and _may_survey(incident, source):
        # Once per incident, where the citizen can answer with buttons: was it solved, how was the answer.
        assert incident.id is not None
        incident.survey_state = SURVEY_ASKED
        outbox.enqueue(
            session,
            kind=outbox.SURVEY,
            platform=source.platform,
            chat_id=incident.chat_ref,
            incident_id=incident.id,
            now=now,
        )
        session.add(_event(incident, "survey_asked", now))
    await _finish(session, incident, now)


SURVEY_ASKED, SURVEY_DONE = "asked", "answered"
# Where a survey is possible: the bot's private chat in Telegram (VK dialogs need keyboards: not yet).
SURVEYED = frozenset({SourceKind.TG_DIRECT})


def _may_survey(incident: Incident, source: Source) -> bool:
    return incident.private and incident.survey_state is None and source.kind in SURVEYED and source.can_reply


async def _surveyed(session: AsyncSession, incident_id: int, citizen_id: str) -> Incident:
    incident = await _load(session, incident_id)
    author = await session.get(Author, incident.author_id) if incident.author_id else None
    if author is None or author.external_id != citizen_id or incident.survey_state is None:
        raise NotAllowed("Этот опрос — для автора обращения.")
    return incident


async def citizen_says_solved(
    session: AsyncSession, *, incident_id: int, citizen_id: str, solved: bool, now: datetime
) -> Incident:
    """The citizen's answer to «решена ли проблема?». «Нет» reopens the incident to its assignee: the citizen's
    next message in the chat is attached to it, and the final answer's deadline starts again."""
    incident = await _surveyed(session, incident_id, citizen_id)
    if incident.solved is not None:
        return incident  # a second press of an old button changes nothing
    incident.solved = solved
    session.add(_event(incident, "citizen_solved" if solved else "citizen_unsolved", now))
    if not solved:
        incident.survey_state = SURVEY_DONE
        if incident.status in (Status.ANSWERED, Status.CLOSED):
            _move(
                incident, Status.IN_PROGRESS if incident.status == Status.ANSWERED else Status.ASSIGNED, action="reopen"
            )
            incident.answered_at, incident.closed_at = None, None
            await deadlines.answer_clock(session, incident, now=now)
        assert incident.id is not None
        for chat in await _recipients(session, incident):
            outbox.enqueue(session, kind=outbox.UNSOLVED, chat_id=chat, incident_id=incident.id, now=now)
    return await _finish(session, incident, now)


async def citizen_rates(
    session: AsyncSession, *, incident_id: int, citizen_id: str, rating: int, now: datetime
) -> Incident:
    if not 1 <= rating <= 5:
        raise InvalidInput("Оценка — от 1 до 5.")
    incident = await _surveyed(session, incident_id, citizen_id)
    if incident.rating is None:
        incident.rating, incident.survey_state = rating, SURVEY_DONE
        session.add(_event(incident, "citizen_rated", now, rating=rating))
    return await _finish(session, incident, now)


async def mark_reply_failed(session: AsyncSession, *, reply_id: int, error: str, now: datetime) -> None:
    """Tell the staff that an answer did not reach the citizen; the incident goes back to work."""
    reply = await session.get(Reply, reply_id)
    if reply is None:
        return
    reply.state, reply.error = "failed", error[:2000]
    incident = await _load(session, reply.incident_id)
    assert incident.id is not None
    session.add_all([reply, _event(incident, "reply_failed", now, reply_id=reply.id, error=error[:500])])
    if incident.status == Status.ANSWERED:
        _move(incident, Status.IN_PROGRESS, action="reopen")
        incident.answered_at = None
    for chat in await _recipients(session, incident):
        outbox.enqueue(
            session, kind=outbox.REPLY_FAILED, chat_id=chat, incident_id=incident.id, reply_id=reply.id, now=now
        )
    await _finish(session, incident, now)


async def wait_for_citizen(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    """«Ждём ответа жителя»: the deadline stops until the citizen writes again or staff go on."""
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    _move(incident, Status.WAITING, action="wait")
    left = await deadlines.pause_clock(session, incident, now=now)
    session.add(_event(incident, "paused", now, staff, left_seconds=int(left.total_seconds())))
    for other in await problems.followers(session, incident, statuses=deadlines.CHASED):
        _move(other, Status.WAITING, action="wait")
        other.paused_left, other.due_at, other.updated_at = incident.paused_left, None, now
        session.add_all([other, _event(other, "paused", now, staff, lead_id=incident.id)])
    return await _finish(session, incident, now)


async def resume_incident(session: AsyncSession, *, incident_id: int, staff: Staff, now: datetime) -> Incident:
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    if incident.status != Status.WAITING:
        raise IllegalTransition(
            f"Инцидент № {incident.id} не ждёт ответа жителя.", current=incident.status, target=Status.IN_PROGRESS
        )
    await _resume(session, incident, now, staff=staff)
    return await _finish(session, incident, now)


async def _resume(
    session: AsyncSession, incident: Incident, now: datetime, *, staff: Staff | None = None, by_citizen: bool = False
) -> None:
    _move(incident, Status.IN_PROGRESS, action="resume")
    await deadlines.resume_clock(session, incident, now=now)
    session.add(_event(incident, "resumed", now, staff, by_citizen=by_citizen))
    for other in await problems.followers(session, incident, statuses=(Status.WAITING,)):
        _move(other, Status.IN_PROGRESS, action="resume")
        other.paused_left, other.due_at, other.updated_at = None, incident.due_at, now
        session.add_all([other, _event(other, "resumed", now, staff, lead_id=incident.id)])


def _require_running(incident: Incident) -> None:
    if incident.status == Status.WAITING:
        raise InvalidInput(f"Срок по инциденту № {incident.id} приостановлен: ждём ответа жителя.")
    if incident.status not in deadlines.CHASED or incident.due_at is None:
        raise InvalidInput(f"По инциденту № {incident.id} срок уже не идёт: он {STATUS_TITLES[incident.status]}.")


async def extend_deadline(
    session: AsyncSession, *, incident_id: int, staff: Staff, until: datetime, reason: str, now: datetime
) -> Incident:
    """Give more time, for a reason that stays in the timeline; the citizen's wait is not hidden: the first
    deadline stays recorded beside the new one."""
    reason = reason.strip()
    if len(reason) < 3:
        raise InvalidInput("Укажите причину продления срока.")
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    _require_running(incident)
    old = incident.due_at
    await deadlines.extend_clock(session, incident, until=until, now=now)
    session.add(
        _event(
            incident,
            "deadline_extended",
            now,
            staff,
            old=old.isoformat() if old else None,
            new=until.isoformat(),
            reason=reason[:1000],
        )
    )
    for other in await problems.followers(session, incident, statuses=deadlines.CHASED):
        other.due_at, other.updated_at = until, now
        session.add_all([other, _event(other, "deadline_extended", now, staff, lead_id=incident.id, reason=reason)])
    return await _finish(session, incident, now)


async def set_urgent(session: AsyncSession, *, incident_id: int, staff: Staff, urgent: bool, now: datetime) -> Incident:
    """Mark or unmark as urgent: the reaction deadline follows the urgent policy (4 working hours by default)."""
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    if incident.urgent == urgent:
        return incident
    incident.urgent = urgent
    if incident.status in deadlines.CHASED:
        await deadlines.recompute_clock(session, incident, now=now)
    session.add(_event(incident, "urgency_changed", now, staff, urgent=urgent))
    return await _finish(session, incident, now)


async def set_track(session: AsyncSession, *, incident_id: int, staff: Staff, track: str, now: datetime) -> Incident:
    """Switch to a formal appeal under 59-ФЗ (30 days from registration by default), or back."""
    if track not in (Track.SOCIAL, Track.APPEAL):
        raise InvalidInput("Порядок рассмотрения: сообщение из соцсетей или обращение по 59-ФЗ.")
    incident = await _load(session, incident_id)
    await _check_may_act(session, staff, incident)
    if incident.track == track:
        return incident
    incident.track = track
    if track == Track.SOCIAL and incident.first_reaction_at is None:
        incident.phase = Phase.REACTION
    if incident.status in deadlines.CHASED:
        await deadlines.recompute_clock(session, incident, now=now)
    session.add(_event(incident, "track_changed", now, staff, track=track))
    return await _finish(session, incident, now)


@dataclass(slots=True)
class IncidentView:
    """An incident with what every adapter shows beside it."""

    incident: Incident
    source: Source
    author: Author | None
    sector: Sector | None
    assignee: Staff | None
    followups: int
    last_reply: Reply | None
    last_reply_by: Staff | None
    messages: list[IncidentMessage] = field(default_factory=list)
    events: list[IncidentEvent] = field(default_factory=list)
    # The model's guesses for an incident in triage, as sectors with their probabilities.
    suggested: list[tuple[Sector, float]] = field(default_factory=list)
    # In triage, when the model firmly thinks it is not an incident: its probability.
    not_incident_p: float | None = None
    # The problem it belongs to: its lead's number and how many reports it has (1 outside a problem).
    problem_lead_id: int | None = None
    problem_size: int = 1


async def view_incident(session: AsyncSession, incident_id: int, *, full: bool = False) -> IncidentView:
    incident = await _load(session, incident_id)
    source = await session.get(Source, incident.source_id)
    assert source is not None
    last_reply = (
        await session.exec(
            select(Reply).where(Reply.incident_id == incident_id).order_by(col(Reply.id).desc()).limit(1)
        )
    ).first()
    count = (
        await session.exec(
            select(func.count()).select_from(IncidentMessage).where(IncidentMessage.incident_id == incident_id)
        )
    ).one()
    view = IncidentView(
        incident=incident,
        source=source,
        author=await session.get(Author, incident.author_id) if incident.author_id else None,
        sector=await session.get(Sector, incident.sector_code) if incident.sector_code else None,
        assignee=await session.get(Staff, incident.assignee_id) if incident.assignee_id else None,
        followups=max(count - 1, 0),
        last_reply=last_reply,
        last_reply_by=await session.get(Staff, last_reply.staff_id) if last_reply and last_reply.staff_id else None,
    )
    view.problem_lead_id, view.problem_size = await problems.problem_summary(session, incident)
    if incident.status == Status.NEW:
        for guess in incident.suggestions:
            if guess.get("sector") == NOT_INCIDENT:
                view.not_incident_p = float(guess.get("p", 0))
                continue
            sector = await session.get(Sector, guess.get("sector"))
            if sector is not None and sector.active:
                view.suggested.append((sector, float(guess.get("p", 0))))
    if full:
        view.messages = list(
            await session.exec(
                select(IncidentMessage)
                .where(IncidentMessage.incident_id == incident_id)
                .order_by(col(IncidentMessage.id))
            )
        )
        view.events = list(
            await session.exec(
                select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(col(IncidentEvent.id))
            )
        )
    return view


# The orders of the incident list; the first is the default. Each ends with the id: pages never overlap.
SORTS = ("new", "old", "due", "updated")
MAX_SEARCH_WORDS = 10


async def list_incidents(
    session: AsyncSession,
    *,
    status: str | Sequence[str] | None = None,
    sector_code: str | None = None,
    sector_codes: Sequence[str] | None = None,
    source_id: int | None = None,
    source_kind: str | None = None,
    settlement: str | None = None,
    assignee_id: int | None = None,
    overdue_at: datetime | None = None,
    received_from: datetime | None = None,
    received_before: datetime | None = None,
    text: str = "",
    sort: str = "new",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """A page of incidents and how many match in all. `status` is one status or several; `sector_codes` limits
    to the sectors someone may see (None: all); `overdue_at`: only those whose running deadline passed before
    that moment; `received_from`/`received_before`: the period of arrival; `text`: every word of it, in any case
    and with «ё» or «е», in the citizen's text, or the incident's number. Sorts: see `SORTS`."""
    where = incident_conditions(
        status=status,
        sector_code=sector_code,
        sector_codes=sector_codes,
        source_id=source_id,
        source_kind=source_kind,
        settlement=settlement,
        assignee_id=assignee_id,
        overdue_at=overdue_at,
        received_from=received_from,
        received_before=received_before,
        text=text,
    )
    if sort not in SORTS:
        raise InvalidInput("Такой сортировки нет: сначала новые, сначала старые, по сроку или по изменению.")
    if searchable(text):
        # Words are found only by reading every row: one scan gives the numbers of all matches in order (their
        # count is the total), then the page is read by number; counting and paging separately would scan twice.
        numbers = list(await session.exec(select(Incident.id).where(*where).order_by(*_order(sort, by_index=False))))
        page = numbers[offset : offset + limit]
        found = {i.id: i for i in await session.exec(select(Incident).where(col(Incident.id).in_(page)))}
        return [found[number] for number in page if number in found], len(numbers)
    total = (await session.exec(select(func.count()).select_from(Incident).where(*where))).one()
    if total == 0:
        return [], 0
    rows = await session.exec(select(Incident).where(*where).order_by(*_order(sort)).limit(limit).offset(offset))
    return list(rows), total


def _order(sort: str, *, by_index: bool = True) -> tuple[Any, ...]:
    """ORDER BY of a sort. For a text search the planner is kept off the order's index (a wrapped column): walking
    it would fetch row after row to find the few matches, several times slower than one scan and a sort."""

    def key(column: Any) -> Any:
        return column if by_index else func.coalesce(column, column)

    number = col(Incident.id)
    if sort == "old":
        return key(col(Incident.received_at)).asc(), number.asc()
    if sort == "due":
        # Nearest deadline first; those without a running deadline (finished, paused) after all the others.
        return key(col(Incident.due_at)).asc().nulls_last(), number.asc()
    if sort == "updated":
        return key(col(Incident.updated_at)).desc(), number.desc()
    return key(col(Incident.received_at)).desc(), number.desc()


def incident_conditions(
    *,
    status: str | Sequence[str] | None = None,
    sector_code: str | None = None,
    sector_codes: Sequence[str] | None = None,
    source_id: int | None = None,
    source_kind: str | None = None,
    settlement: str | None = None,
    assignee_id: int | None = None,
    overdue_at: datetime | None = None,
    received_from: datetime | None = None,
    received_before: datetime | None = None,
    text: str = "",
) -> list[Any]:
    """The WHERE conditions of `list_incidents`, for other queries over the same selection (counts, reports)."""
    where: list[Any] = []
    statuses = [status] if isinstance(status, str) else list(status or ())
    if statuses:
        where.append(col(Incident.status).in_(statuses))
    if sector_code:
        where.append(col(Incident.sector_code) == sector_code)
    if sector_codes is not None:
        where.append(col(Incident.sector_code).in_(list(sector_codes)))
    if source_id is not None:
        where.append(col(Incident.source_id) == source_id)
    if source_kind:
        where.append(col(Incident.source_id).in_(select(Source.id).where(Source.kind == source_kind)))
    if settlement:
        where.append(col(Incident.settlement) == settlement)
    if assignee_id is not None:
        where.append(col(Incident.assignee_id) == assignee_id)
    if overdue_at is not None:
        where += [col(Incident.status).in_(deadlines.CHASED), col(Incident.due_at) < overdue_at]
    if received_from is not None:
        where.append(col(Incident.received_at) >= received_from)
    if received_before is not None:
        where.append(col(Incident.received_at) < received_before)
    where += _text_conditions(text)
    return where


def _text_conditions(text: str) -> list[Any]:
    """Every word must be in the folded text (a substring: «ям» finds «яма» and «ямы»); «№ 12» or «12» also
    finds incident № 12 itself."""
    words = searchable(text).split()[:MAX_SEARCH_WORDS]
    if not words:
        return []
    found = [col(Incident.search).contains(word, autoescape=True) for word in words]
    number = "".join(words).lstrip("№#")
    if number.isdigit() and len(number) < 10:
        return [or_(col(Incident.id) == int(number), and_(*found))]
    return found


async def incident_replies(session: AsyncSession, incident_id: int) -> list[Reply]:
    """Every answer to the incident, oldest first, with its state (pending, published, failed)."""
    return list(await session.exec(select(Reply).where(Reply.incident_id == incident_id).order_by(col(Reply.id))))
