"""Citizens' satisfaction: asked once after a final answer in a private chat; «не решена» reopens the incident."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import watch_chat
from handlers.errors import NotAllowed
from handlers.incidents import (
    answer_incident,
    citizen_rates,
    citizen_says_solved,
    ingest_message,
    mark_reply_published,
)
from handlers.types import SourceRef
from storage.models import Incident, IncidentMessage, Outbox, Phase, SourceKind, Staff, Status
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link


async def answered(session: AsyncSession, clock: Clock, *, final: bool = True, **kwargs: object) -> Incident:
    head = await link(session, 1, 7001)
    result = await ingest_message(session, message=citizen("Яма на дороге у школы", at=clock(), **kwargs), now=clock())  # type: ignore[arg-type]
    assert result.incident is not None and result.incident.id is not None
    reply = await answer_incident(
        session, incident_id=result.incident.id, staff=head, text="Засыпали", now=clock(), final=final
    )
    await mark_reply_published(session, reply_id=reply.id or 0, platform_message_id="77", now=clock())
    incident = await session.get(Incident, result.incident.id)
    assert incident is not None
    return incident


async def surveys(session: AsyncSession) -> list[Outbox]:
    return list(await session.exec(select(Outbox).where(Outbox.kind == outbox.SURVEY).order_by(col(Outbox.id))))


async def test_asked_once_after_the_final_answer_and_rated(session: AsyncSession, clock: Clock) -> None:
    incident = await answered(session, clock)
    assert incident.survey_state == "asked"
    assert [(s.chat_id, s.incident_id) for s in await surveys(session)] == [("501", incident.id)]
    solved = await citizen_says_solved(
        session, incident_id=incident.id or 0, citizen_id="501", solved=True, now=clock()
    )
    assert solved.solved is True and solved.status == Status.ANSWERED
    rated = await citizen_rates(session, incident_id=incident.id or 0, citizen_id="501", rating=5, now=clock())
    assert (rated.rating, rated.survey_state) == (5, "answered")
    # An old button pressed again changes nothing.
    again = await citizen_rates(session, incident_id=incident.id or 0, citizen_id="501", rating=1, now=clock())
    assert again.rating == 5


async def test_not_solved_reopens_to_the_assignee_with_the_citizens_words(session: AsyncSession, clock: Clock) -> None:
    incident = await answered(session, clock)
    clock.advance(hours=1)
    back = await citizen_says_solved(session, incident_id=incident.id or 0, citizen_id="501", solved=False, now=clock())
    assert back.status == Status.IN_PROGRESS and back.phase == Phase.ANSWER and back.due_at is not None
    notices = await session.exec(select(Outbox).where(Outbox.kind == outbox.UNSOLVED))
    assert {n.chat_id for n in notices} == {"7001"}
    # What the citizen writes next is attached to this incident, not a new one.
    await ingest_message(session, message=citizen("Яму засыпали только наполовину", at=clock()), now=clock())
    messages = list(await session.exec(select(IncidentMessage).where(IncidentMessage.incident_id == incident.id)))
    assert len(messages) == 2 and len(list(await session.exec(select(Incident)))) == 1
    # The next final answer does not ask again: once per incident.
    head = await session.get(Staff, 1)
    assert head is not None
    reply = await answer_incident(session, incident_id=incident.id or 0, staff=head, text="Засыпали всю", now=clock())
    await mark_reply_published(session, reply_id=reply.id or 0, platform_message_id="78", now=clock())
    assert len(await surveys(session)) == 1


async def test_no_survey_for_interim_answers_comments_or_strangers(session: AsyncSession, clock: Clock) -> None:
    interim = await answered(session, clock, final=False)
    assert interim.survey_state is None
    with pytest.raises(NotAllowed):
        await citizen_says_solved(session, incident_id=interim.id or 0, citizen_id="501", solved=True, now=clock())
    group = SourceRef(platform="telegram", kind=SourceKind.TG_GROUP, external_id="-100777")
    await watch_chat(session, staff=None, chat_id=-100777, kind=SourceKind.TG_GROUP, title="Тросна")
    comment = await answered(session, clock, source=group, chat=-100777, user=502)
    assert comment.survey_state is None and await surveys(session) == []


async def test_only_the_author_answers(session: AsyncSession, clock: Clock) -> None:
    incident = await answered(session, clock)
    with pytest.raises(NotAllowed, match="автора обращения"):
        await citizen_says_solved(session, incident_id=incident.id or 0, citizen_id="999", solved=False, now=clock())
