"""Staff actions on incidents: accept, answer, reassign, reject, close; permissions and the transition table."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.delivery import record_failed, record_sent
from handlers.errors import IllegalTransition, InvalidInput, NotAllowed
from handlers.incidents import (
    TRANSITIONS,
    accept_incident,
    answer_incident,
    check_may_answer,
    close_incident,
    ingest_message,
    reassign_incident,
    reject_incident,
    view_incident,
)
from handlers.sources import register_vk_source
from handlers.types import SourceRef
from storage.models import CardMessage, Incident, IncidentEvent, Outbox, Reply, SourceKind, Staff, Status
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link


async def new_incident(session: AsyncSession, clock: Clock, text: str = "Яма на дороге") -> Incident:
    result = await ingest_message(session, message=citizen(text, at=clock()), now=clock())
    assert result.incident is not None
    return result.incident


async def staff(session: AsyncSession, staff_id: int) -> Staff:
    person = await session.get(Staff, staff_id)
    assert person is not None
    return person


async def events(session: AsyncSession, incident_id: int | None) -> list[str]:
    rows = await session.exec(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident_id).order_by(col(IncidentEvent.id))
    )
    return [e.kind for e in rows]


def test_every_status_has_its_transitions() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert all(target in set(Status) for targets in TRANSITIONS.values() for target in targets)


async def test_head_accepts_and_answers_and_reply_is_published(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    clock.advance(minutes=30)
    accepted = await accept_incident(session, incident_id=incident.id or 0, staff=head, now=clock())
    assert accepted.status == Status.IN_PROGRESS
    assert accepted.first_reaction_at is None  # the citizen has seen nothing yet

    clock.advance(minutes=30)
    reply = await answer_incident(
        session, incident_id=incident.id or 0, staff=head, text="  Яму засыплем до пятницы.  ", now=clock()
    )
    assert reply.text == "Яму засыплем до пятницы."
    refreshed = await session.get(Incident, incident.id)
    assert refreshed is not None and refreshed.status == Status.ANSWERED and refreshed.answered_at == clock()
    # The first reaction is the first answer the citizen sees.
    assert refreshed.first_reaction_at == clock()
    item = (await session.exec(select(Outbox).where(Outbox.kind == outbox.REPLY))).one()
    assert item.chat_id == "501" and item.reply_id == reply.id

    await record_sent(session, item=item, message_ids=["900"], now=clock())
    published = await session.get(Reply, reply.id)
    assert published is not None and published.state == "published" and published.platform_message_id == "900"
    assert await events(session, incident.id) == [
        "received",
        "routed",
        "accepted",
        "answered",
        "reply_published",
        "survey_asked",  # a final answer in the bot's private chat: the citizen is asked how it went
    ]


async def test_failed_publication_returns_incident_to_work_and_tells_staff(session: AsyncSession, clock: Clock) -> None:
    head = await link(session, 1, 7001)
    incident = await new_incident(session, clock)
    await answer_incident(session, incident_id=incident.id or 0, staff=head, text="Ответ", now=clock())
    item = (await session.exec(select(Outbox).where(Outbox.kind == outbox.REPLY))).one()

    await record_failed(
        session,
        item=item,
        failure=outbox.Failure(error="Forbidden: bot was blocked by the user", permanent=True),
        now=clock(),
    )

    refreshed = await session.get(Incident, incident.id)
    assert refreshed is not None and refreshed.status == Status.IN_PROGRESS and refreshed.answered_at is None
    notices = list(await session.exec(select(Outbox).where(Outbox.kind == outbox.REPLY_FAILED)))
    assert [n.chat_id for n in notices] == ["7001"]
    assert "reply_failed" in await events(session, incident.id)


async def test_reassign_keeps_deadline_and_cards_new_head(session: AsyncSession, clock: Clock) -> None:
    officer = await link(session, 3, 7003)
    await link(session, 5, 7005)  # Ерохина, «Образование»
    incident = await new_incident(session, clock)
    due = incident.due_at
    session.add(CardMessage(incident_id=incident.id or 0, chat_id="-100500", message_id="1", created_at=clock()))
    await session.commit()
    clock.advance(hours=3)

    moved = await reassign_incident(
        session, incident_id=incident.id or 0, sector_code="education", staff=officer, now=clock()
    )

    assert moved.sector_code == "education" and moved.assignee_id == 5 and moved.classified_by == "manual"
    assert moved.due_at == due
    rows = list(await session.exec(select(Outbox).where(Outbox.incident_id == incident.id)))
    assert (outbox.CARD, "7005") in {(r.kind, r.chat_id) for r in rows}
    assert (outbox.CARD_UPDATE, "-100500") in {(r.kind, r.chat_id) for r in rows}
    with pytest.raises(InvalidInput):
        await reassign_incident(
            session, incident_id=incident.id or 0, sector_code="education", staff=officer, now=clock()
        )
    with pytest.raises(InvalidInput):
        await reassign_incident(session, incident_id=incident.id or 0, sector_code="nope", staff=officer, now=clock())


async def test_sector_head_cannot_act_on_another_sector(session: AsyncSession, clock: Clock) -> None:
    other_head = await link(session, 5, 7005)  # education, not roads
    incident = await new_incident(session, clock)
    for action in (accept_incident, reject_incident, close_incident):
        with pytest.raises(NotAllowed):
            await action(session, incident_id=incident.id or 0, staff=other_head, now=clock())
    with pytest.raises(NotAllowed):
        await answer_incident(session, incident_id=incident.id or 0, staff=other_head, text="x", now=clock())


async def test_closed_and_rejected_incidents_refuse_further_moves(session: AsyncSession, clock: Clock) -> None:
    officer = await staff(session, 3)
    first = await new_incident(session, clock)
    await reject_incident(session, incident_id=first.id or 0, staff=officer, now=clock())
    with pytest.raises(IllegalTransition) as caught:
        await accept_incident(session, incident_id=first.id or 0, staff=officer, now=clock())
    assert "не инцидент" in caught.value.message

    second = await new_incident(session, clock, "Нет света")
    await close_incident(session, incident_id=second.id or 0, staff=officer, now=clock())
    with pytest.raises(IllegalTransition):
        await answer_incident(session, incident_id=second.id or 0, staff=officer, text="Ответ", now=clock())
    with pytest.raises(IllegalTransition):
        await close_incident(session, incident_id=second.id or 0, staff=officer, now=clock())


async def test_empty_answer_is_refused(session: AsyncSession, clock: Clock) -> None:
    officer = await staff(session, 3)
    incident = await new_incident(session, clock)
    with pytest.raises(InvalidInput):
        await answer_incident(session, incident_id=incident.id or 0, staff=officer, text="   ", now=clock())


async def test_view_shows_followups_reply_and_timeline(session: AsyncSession, clock: Clock) -> None:
    officer = await staff(session, 3)
    incident = await new_incident(session, clock)
    await ingest_message(session, message=citizen("ещё одно", at=clock()), now=clock())
    await answer_incident(session, incident_id=incident.id or 0, staff=officer, text="Ответ", now=clock())
    view = await view_incident(session, incident.id or 0, full=True)
    assert view.followups == 1
    assert view.last_reply is not None and view.last_reply_by is not None and view.last_reply_by.id == 3
    assert [m.text for m in view.messages] == ["Яма на дороге", "ещё одно"]
    assert view.sector is not None and view.sector.title == "Дороги"


async def test_answer_is_refused_before_typing_where_it_cannot_be_published(
    session: AsyncSession, clock: Clock
) -> None:
    officer = await staff(session, 3)
    await register_vk_source(session, kind=SourceKind.VK_WATCHED_PUBLIC, owner_id=-555)
    public = SourceRef(platform="vk", kind=SourceKind.VK_WATCHED_PUBLIC, external_id="-555")
    result = await ingest_message(session, message=citizen("Яма", at=clock(), source=public), now=clock())
    assert result.incident is not None
    with pytest.raises(InvalidInput, match="ответьте жителю вручную"):
        await check_may_answer(session, incident_id=result.incident.id or 0, staff=officer)
    closed = await new_incident(session, clock, "Нет света")
    await close_incident(session, incident_id=closed.id or 0, staff=officer, now=clock())
    with pytest.raises(IllegalTransition):
        await check_may_answer(session, incident_id=closed.id or 0, staff=officer)
