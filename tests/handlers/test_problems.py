"""Problems: twenty reports of one trouble are one problem, answered once and closed together."""

from __future__ import annotations

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.incidents import (
    accept_incident,
    answer_incident,
    close_incident,
    ingest_message,
    reassign_incident,
    view_incident,
)
from handlers.problems import content_words, similarity
from handlers.sources import register_vk_source
from handlers.types import SourceRef
from storage.models import AutoRule, Incident, Problem, Reminder, Reply, SourceKind, Staff, Status
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import link, outbox_rows


@pytest.fixture
async def light_rule(session: AsyncSession) -> None:
    """Route every outage to «Энергетика» whatever the seeded rules and the model say."""
    session.add(AutoRule(position=-1, name="свет", keywords="свет\nэлектричеств\nфонар", sector_code="energy"))
    await session.commit()


async def report(session: AsyncSession, clock: Clock, text: str, user: int, **kwargs: object) -> Incident:
    result = await ingest_message(session, message=citizen(text, at=clock(), user=user, **kwargs), now=clock())  # type: ignore[arg-type]
    assert result.created and result.incident is not None
    return result.incident


def test_similar_reports_share_their_meaning_words_not_the_settlement() -> None:
    one = content_words("Нет света в Жерновце", "Жерновец")
    two = content_words("В Жерновце опять нет света с утра", "Жерновец")
    other = content_words("В Жерновце не горят фонари на Садовой", "Жерновец")
    assert one == {"свет"}
    assert similarity(one, two) == 1.0
    assert similarity(one, other) == 0.0


@pytest.mark.usefixtures("light_rule")
async def test_reports_of_one_outage_become_one_problem(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)  # Волкова heads «Энергетика»
    lead = await report(session, clock, "Нет света в Жерновце", user=601)
    clock.advance(minutes=20)
    second = await report(session, clock, "В Жерновце опять нет света, сколько можно", user=602)
    clock.advance(minutes=20)
    third = await report(session, clock, "жерновец без света третий час", user=603)
    elsewhere = await report(session, clock, "Нет света в Тросне", user=604)
    other_trouble = await report(session, clock, "В Жерновце не горят фонари", user=605)

    problem = (await session.exec(select(Problem))).one()
    assert problem.lead_id == lead.id and problem.settlement == "Жерновец" and problem.sector_code == "energy"
    assert [i.problem_id for i in (lead, second, third)] == [problem.id] * 3
    assert elsewhere.problem_id is None and other_trouble.problem_id is None
    # The lead's card counts the reports; the others get no card and no reminders of their own.
    view = await view_incident(session, lead.id or 0)
    assert (view.problem_lead_id, view.problem_size) == (lead.id, 3)
    assert {r.kind for r in await outbox_rows(session, second.id)} == {outbox.ACK}
    notices = [r for r in await outbox_rows(session, lead.id) if r.kind == outbox.PROBLEM_REPORT]
    assert [r.payload["report"] for r in notices if r.chat_id == "7001"] == [second.id, third.id]
    assert list(await session.exec(select(Reminder).where(Reminder.incident_id == second.id))) == []


@pytest.mark.usefixtures("light_rule")
async def test_one_answer_reaches_every_citizen_and_one_close_closes_all(session: AsyncSession, clock: Clock) -> None:
    head = await session.get(Staff, 1)
    assert head is not None
    lead = await report(session, clock, "Нет света в Жерновце", user=601)
    second = await report(session, clock, "Жерновец опять без света", user=602)
    assert lead.id is not None and second.id is not None

    await accept_incident(session, incident_id=lead.id, staff=head, now=clock())
    assert (await session.get(Incident, second.id)).status == Status.IN_PROGRESS  # type: ignore[union-attr]

    clock.advance(hours=1)
    await answer_incident(
        session,
        incident_id=lead.id,
        staff=head,
        text="Авария на линии, бригада на месте, свет дадут к 18:00",
        now=clock(),
    )
    replies = list(await session.exec(select(Reply).order_by(col(Reply.id))))
    assert [r.incident_id for r in replies] == [lead.id, second.id]
    published = [r for r in await outbox_rows(session) if r.kind == outbox.REPLY]
    assert sorted(r.chat_id for r in published) == ["601", "602"]
    assert (await session.get(Incident, second.id)).status == Status.ANSWERED  # type: ignore[union-attr]

    await close_incident(session, incident_id=lead.id, staff=head, now=clock())
    statuses = {i.id: i.status for i in await session.exec(select(Incident))}
    assert statuses == {lead.id: Status.CLOSED, second.id: Status.CLOSED}


@pytest.mark.usefixtures("light_rule")
async def test_reassigning_the_problem_moves_every_report(session: AsyncSession, clock: Clock) -> None:
    officer = await session.get(Staff, 3)
    assert officer is not None
    lead = await report(session, clock, "Нет света в Жерновце", user=601)
    second = await report(session, clock, "И у нас в Жерновце нет света", user=602)
    assert lead.id is not None
    await reassign_incident(session, incident_id=lead.id, sector_code="zhkh", staff=officer, now=clock())
    moved = await session.get(Incident, second.id)
    assert moved is not None and moved.sector_code == "zhkh" and moved.status == Status.ASSIGNED


@pytest.mark.usefixtures("light_rule")
async def test_reports_days_apart_or_after_the_answer_start_afresh(session: AsyncSession, clock: Clock) -> None:
    head = await session.get(Staff, 1)
    assert head is not None
    first = await report(session, clock, "Нет света в Жерновце", user=601)
    clock.advance(days=4)
    late = await report(session, clock, "Нет света в Жерновце", user=602)
    assert late.problem_id is None and late.id is not None
    await answer_incident(session, incident_id=late.id, staff=head, text="Восстановлено", now=clock())
    await answer_incident(session, incident_id=first.id or 0, staff=head, text="Восстановлено", now=clock())
    after = await report(session, clock, "Снова нет света в Жерновце", user=603)
    assert after.problem_id is None


@pytest.mark.usefixtures("light_rule")
async def test_comments_under_one_post_group_without_a_settlement(session: AsyncSession, clock: Clock) -> None:
    post = SourceRef(platform="vk", kind=SourceKind.VK_COMMUNITY, external_id="77")
    await register_vk_source(session, kind=SourceKind.VK_COMMUNITY, owner_id=77, title="Администрация")
    one = await report(session, clock, "когда дадут свет?", user=601, source=post, thread="wall-77_10")
    two = await report(session, clock, "света нет уже пять часов", user=602, source=post, thread="wall-77_10")
    other_post = await report(session, clock, "свет когда будет", user=603, source=post, thread="wall-77_11")
    assert one.problem_id is not None and two.problem_id == one.problem_id
    assert other_post.problem_id is None
