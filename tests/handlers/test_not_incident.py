"""«Не инцидент»: set aside with a reason, shown to the officer, reversible, and learnt when staff decide it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import classifier, noise, outbox
from handlers.classifier import SectorClassifier, default_classifier, use_classifier
from handlers.directory import set_staff_chat
from handlers.errors import NotAllowed
from handlers.incidents import ingest_message, reassign_incident, reject_incident, reopen_incident, view_incident
from storage.models import Incident, IncidentEvent, Reminder, RoutingExample, Staff, Status
from tests.conftest import Clock
from tests.factories import citizen
from tests.handlers.test_intake import STAFF_CHAT, link, outbox_rows


async def staff(session: AsyncSession, staff_id: int) -> Staff:
    found = await session.get(Staff, staff_id)
    assert found is not None
    return found


async def test_thanks_is_logged_as_not_incident_with_its_reason(session: AsyncSession, clock: Clock) -> None:
    await set_staff_chat(session, staff=None, chat_id=STAFF_CHAT)
    result = await ingest_message(session, message=citizen("Спасибо большое! 🙏", at=clock()), now=clock())

    incident = result.incident
    assert result.created and incident is not None
    assert incident.status == Status.REJECTED and incident.not_incident_reason == noise.THANKS
    assert incident.sector_code is None and incident.closed_at == clock()
    # No sector head is bothered, nothing is chased, the citizen gets no «обращение зарегистрировано»;
    # the officer sees it in the staff chat with a button to bring it back.
    assert [(r.kind, r.chat_id) for r in await outbox_rows(session, incident.id)] == [(outbox.CARD, str(STAFF_CHAT))]
    assert list(await session.exec(select(Reminder).where(Reminder.incident_id == incident.id))) == []
    event = (await session.exec(select(IncidentEvent).where(IncidentEvent.kind == "rejected"))).one()
    assert event.data["reason"] == noise.THANKS


async def test_reopened_noise_goes_to_triage_and_then_to_the_chosen_sector(session: AsyncSession, clock: Clock) -> None:
    await set_staff_chat(session, staff=None, chat_id=STAFF_CHAT)
    officer = await staff(session, 3)
    await link(session, 1, 7001)  # head of «Дороги»
    result = await ingest_message(session, message=citizen("👍👍", at=clock()), now=clock())
    assert result.incident is not None and result.incident.id is not None
    number = result.incident.id

    clock.advance(minutes=5)
    reopened = await reopen_incident(session, incident_id=number, staff=officer, now=clock())
    assert reopened.status == Status.NEW and reopened.not_incident_reason is None and reopened.closed_at is None
    # Its deadline counts from when the citizen wrote; the reminders still ahead are planned now.
    assert reopened.due_at is not None
    reminders = list(await session.exec(select(Reminder).where(Reminder.incident_id == number)))
    assert sorted(r.kind for r in reminders) == ["escalation", "reminder", "reminder", "reminder"]

    routed = await reassign_incident(session, incident_id=number, sector_code="roads", staff=officer, now=clock())
    assert routed.status == Status.ASSIGNED and routed.assignee_id == 1
    assert (outbox.CARD, "7001") in {(r.kind, r.chat_id) for r in await outbox_rows(session, number)}


async def test_staff_not_incident_teaches_the_model_and_undo_forgets_it(session: AsyncSession, clock: Clock) -> None:
    officer = await staff(session, 3)
    result = await ingest_message(session, message=citizen("Огромная яма на дороге у школы", at=clock()), now=clock())
    assert result.incident is not None and result.incident.id is not None
    number = result.incident.id

    rejected = await reject_incident(session, incident_id=number, staff=officer, now=clock())
    assert rejected.status == Status.REJECTED and rejected.not_incident_reason == noise.STAFF
    example = (await session.exec(select(RoutingExample))).one()
    assert (example.sector_code, example.incident_id) == ("not_incident", number)

    back = await reopen_incident(session, incident_id=number, staff=officer, now=clock())
    # It had a sector: back to that sector's head at once.
    assert back.status == Status.ASSIGNED and back.sector_code == "roads" and back.assignee_id == 1
    assert list(await session.exec(select(RoutingExample))) == []


async def test_only_coordinators_and_the_sectors_head_may_reopen(session: AsyncSession, clock: Clock) -> None:
    result = await ingest_message(session, message=citizen("Спасибо", at=clock()), now=clock())
    assert result.incident is not None and result.incident.id is not None
    sector_head = await staff(session, 5)  # heads sectors of their own, not a coordinator
    with pytest.raises(NotAllowed, match="другому блоку"):
        await reopen_incident(session, incident_id=result.incident.id, staff=sector_head, now=clock())


@pytest.fixture
def noise_aware_model() -> Iterator[None]:
    """A small real model that knows what a New Year greeting to the district is."""
    previous = default_classifier()
    texts = [
        "С Новым годом, земляки, счастья всем",
        "Поздравляю всех с праздником, мира и добра",
        "С днём района, дорогие жители",
        "Яма на дороге у школы",
        "Разбита дорога на Садовой",
        "Нет воды в доме",
        "Течёт крыша в подъезде",
    ]
    sectors = ["not_incident"] * 3 + ["roads"] * 2 + ["zhkh"] * 2
    use_classifier(SectorClassifier().fit(texts, sectors))
    yield
    use_classifier(previous)


@pytest.mark.usefixtures("noise_aware_model")
async def test_model_sure_it_is_not_an_incident_offers_that_first_but_leaves_it_to_the_officer(
    session: AsyncSession, clock: Clock
) -> None:
    result = await ingest_message(
        session, message=citizen("С Новым годом всех жителей района, счастья", at=clock()), now=clock()
    )
    incident = result.incident
    assert incident is not None and incident.id is not None
    assert incident.status == Status.NEW  # triage: not rejected by the model alone
    assert incident.suggestions[0]["sector"] == classifier.NOT_INCIDENT
    view = await view_incident(session, incident.id)
    assert view.not_incident_p is not None and view.not_incident_p >= 0.7
    assert all(sector.code != "not_incident" for sector, _ in view.suggested)
    rows = await session.exec(select(Incident).where(col(Incident.status) == Status.REJECTED))
    assert list(rows) == []


async def test_only_a_hello_in_a_dialog_gets_the_invitation(session: AsyncSession, clock: Clock) -> None:
    hello = await ingest_message(session, message=citizen("Добрый день", at=clock()), now=clock())
    assert hello.incident is not None
    assert [r.kind for r in await outbox_rows(session, hello.incident.id) if r.chat_id == "501"] == [outbox.PROMPT]
    thanks = await ingest_message(session, message=citizen("Спасибо!", at=clock(), user=502), now=clock())
    assert thanks.incident is not None
    assert [r for r in await outbox_rows(session, thanks.incident.id) if r.chat_id == "502"] == []
