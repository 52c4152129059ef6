"""Intake of citizen messages: incidents, routing, deadlines, outbox intents, idempotency and follow-ups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import outbox
from handlers.directory import set_staff_chat, watch_chat
from handlers.incidents import edit_message, ingest_message, reassign_incident
from handlers.types import Attachment, SourceRef
from storage.db import SessionPool
from storage.models import (
    Incident,
    IncidentEvent,
    IncidentMessage,
    Outbox,
    Reminder,
    RoutingExample,
    SourceKind,
    Staff,
    Status,
)
from tests.conftest import Clock
from tests.factories import citizen

STAFF_CHAT = -100500


async def link(session: AsyncSession, staff_id: int, telegram_id: int) -> Staff:
    staff = await session.get(Staff, staff_id)
    assert staff is not None
    staff.telegram_id = telegram_id
    session.add(staff)
    await session.commit()
    return staff


async def outbox_rows(session: AsyncSession, incident_id: int | None = None) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id))
    if incident_id is not None:
        query = query.where(Outbox.incident_id == incident_id)
    return list(await session.exec(query))


async def count(session: AsyncSession, model: type) -> int:
    return (await session.exec(select(func.count()).select_from(model))).one()


async def test_private_message_becomes_routed_incident_with_cards_ack_and_deadline(
    session: AsyncSession, clock: Clock
) -> None:
    await link(session, 1, 7001)  # Волкова heads «Дороги»
    await set_staff_chat(session, staff=None, chat_id=STAFF_CHAT)

    result = await ingest_message(
        session, message=citizen("Огромная яма на дороге у школы, машины бьют колёса", at=clock()), now=clock()
    )

    assert result.created and result.incident is not None
    incident = result.incident
    assert incident.sector_code == "roads"
    assert incident.classified_by == "rule"
    assert incident.status == Status.ASSIGNED
    assert incident.assignee_id == 1
    # Tuesday 10:00 MSK + 8 working hours with a lunch hour = Wednesday 10:00 MSK.
    assert incident.due_at == datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    reminders = list(await session.exec(select(Reminder).where(Reminder.incident_id == incident.id)))
    assert sorted(r.kind for r in reminders) == ["escalation", "reminder", "reminder", "reminder"]
    rows = await outbox_rows(session, incident.id)
    assert {(r.kind, r.chat_id) for r in rows} == {
        (outbox.CARD, "7001"),
        (outbox.CARD, str(STAFF_CHAT)),
        (outbox.ACK, "501"),
    }
    kinds = [e.kind for e in await session.exec(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id))]
    assert kinds == ["received", "routed"]


async def test_unsure_text_waits_in_triage_for_the_officer(session: AsyncSession, clock: Clock) -> None:
    await set_staff_chat(session, staff=None, chat_id=STAFF_CHAT)
    await link(session, 2, 7002)  # the МЦУ head, who heads «Прочее»: not bothered by triage
    result = await ingest_message(session, message=citizen("Добрый день, подскажите", at=clock()), now=clock())
    assert result.incident is not None
    incident = result.incident
    assert incident.status == Status.NEW and incident.sector_code is None and incident.assignee_id is None
    assert incident.classified_by == "model" and incident.confidence is not None and incident.confidence < 0.2
    assert len(incident.suggestions) == 3 and all(g["sector"] != "not_incident" for g in incident.suggestions)
    # The card goes to the officer's staff chat only, with the acknowledgement to the citizen.
    rows = await outbox_rows(session, incident.id)
    assert {(r.kind, r.chat_id) for r in rows} == {(outbox.CARD, str(STAFF_CHAT)), (outbox.ACK, "501")}


async def test_triage_choice_assigns_and_teaches(session: AsyncSession, clock: Clock) -> None:
    officer = await session.get(Staff, 3)
    assert officer is not None
    await link(session, 5, 7005)
    result = await ingest_message(session, message=citizen("Добрый день, подскажите", at=clock()), now=clock())
    assert result.incident is not None
    moved = await reassign_incident(
        session, incident_id=result.incident.id or 0, sector_code="education", staff=officer, now=clock()
    )
    assert moved.status == Status.ASSIGNED and moved.assignee_id == 5
    example = (await session.exec(select(RoutingExample))).one()
    assert (example.text, example.sector_code, example.origin) == ("Добрый день, подскажите", "education", "correction")
    assert (outbox.CARD, "7005") in {(r.kind, r.chat_id) for r in await outbox_rows(session, moved.id)}


async def test_same_message_twice_is_one_incident(session: AsyncSession, clock: Clock) -> None:
    message = citizen("Нет воды в доме", at=clock(), message_id=77)
    first = await ingest_message(session, message=message, now=clock())
    rows_after_first = len(await outbox_rows(session))
    second = await ingest_message(session, message=message, now=clock())

    assert second.duplicate and not second.created
    assert second.incident is not None and first.incident is not None
    assert second.incident.id == first.incident.id
    assert await count(session, Incident) == 1
    assert len(await outbox_rows(session)) == rows_after_first


async def test_concurrent_duplicate_deliveries_make_one_incident(session_pool: SessionPool, clock: Clock) -> None:
    message = citizen("Не горит фонарь на улице Мира", at=clock(), message_id=88)

    async def deliver() -> bool:
        async with session_pool() as session:
            return (await ingest_message(session, message=message, now=clock())).created

    created = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sum(created) == 1
    async with session_pool() as session:
        assert await count(session, Incident) == 1
        assert await count(session, IncidentMessage) == 1


async def test_follow_up_in_same_thread_is_attached_and_shown(session: AsyncSession, clock: Clock) -> None:
    await link(session, 1, 7001)
    first = await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    assert first.incident is not None
    await session.commit()
    # Pretend the card was posted, so that the follow-up also asks for an in-place update.
    from storage.models import CardMessage

    session.add(CardMessage(incident_id=first.incident.id or 0, chat_id="7001", message_id="10", created_at=clock()))
    await session.commit()

    clock.advance(minutes=5)
    follow = await ingest_message(session, message=citizen("Фото прилагаю", at=clock()), now=clock())

    assert follow.followup and follow.incident is not None
    assert follow.incident.id == first.incident.id
    assert await count(session, Incident) == 1
    kinds = [r.kind for r in await outbox_rows(session, first.incident.id)]
    assert outbox.FOLLOWUP in kinds and outbox.CARD_UPDATE in kinds


async def test_other_author_or_closed_incident_starts_a_new_one(session: AsyncSession, clock: Clock) -> None:
    first = await ingest_message(session, message=citizen("Яма на дороге", at=clock()), now=clock())
    other = await ingest_message(session, message=citizen("Яма на дороге", at=clock(), user=502), now=clock())
    assert other.created
    assert first.incident is not None
    first.incident.status = Status.CLOSED
    session.add(first.incident)
    await session.commit()
    again = await ingest_message(session, message=citizen("Опять яма", at=clock()), now=clock())
    assert again.created


async def test_group_messages_count_only_from_monitored_chats(session: AsyncSession, clock: Clock) -> None:
    group = SourceRef(platform="telegram", kind=SourceKind.TG_GROUP, external_id="-100777", title="Тросна")
    ignored = await ingest_message(session, message=citizen("Яма", at=clock(), chat=-100777, source=group), now=clock())
    assert ignored.ignored and await count(session, Incident) == 0

    await watch_chat(session, staff=None, chat_id=-100777, kind=SourceKind.TG_DISCUSSION, title="Обсуждение")
    taken = await ingest_message(session, message=citizen("Яма", at=clock(), chat=-100777, source=group), now=clock())
    assert taken.created
    # Comments get no automatic acknowledgement by default.
    assert outbox.ACK not in [r.kind for r in await outbox_rows(session)]


async def test_odd_content_is_kept_verbatim(session: AsyncSession, clock: Clock) -> None:
    text = "<script>alert(1)</script> & *жирный* _курсив_ 🚧🕳️ " + "очень длинный текст " * 1000
    result = await ingest_message(
        session,
        message=citizen(text, at=clock(), attachments=(Attachment(kind="photo", file_id="AgAD"),)),
        now=clock(),
    )
    assert result.incident is not None
    stored = await session.get(Incident, result.incident.id)
    assert stored is not None
    assert stored.text == text
    assert stored.attachments == [{"kind": "photo", "file_id": "AgAD", "name": None}]


async def test_attachment_without_text_is_an_incident(session: AsyncSession, clock: Clock) -> None:
    result = await ingest_message(
        session, message=citizen("", at=clock(), attachments=(Attachment(kind="voice", file_id="v1"),)), now=clock()
    )
    assert result.created and result.incident is not None
    assert result.incident.text == ""


async def test_edit_updates_text_and_keeps_the_old_one_in_the_timeline(session: AsyncSession, clock: Clock) -> None:
    message = citizen("Яма на дороге", at=clock(), message_id=5)
    result = await ingest_message(session, message=message, now=clock())
    assert result.incident is not None
    edited = await edit_message(
        session,
        platform="telegram",
        platform_source_id="bot42",
        external_id=message.external_id,
        text="Яма на дороге у дома 5",
        now=clock(),
    )
    assert edited is not None and edited.text == "Яма на дороге у дома 5"
    events = list(await session.exec(select(IncidentEvent).where(IncidentEvent.kind == "edited")))
    assert events[0].data["old_text"] == "Яма на дороге"


async def test_incident_carries_the_settlement_named_in_the_text(session: AsyncSession, clock: Clock) -> None:
    named = await ingest_message(session, message=citizen("В Жерновце третий день нет света", at=clock()), now=clock())
    unnamed = await ingest_message(session, message=citizen("Нет света", at=clock(), user=777), now=clock())
    assert named.incident is not None and named.incident.settlement == "Жерновец"
    assert unnamed.incident is not None and unnamed.incident.settlement is None


async def test_no_rule_then_the_model_routes_other_words_for_the_same_problem(
    session: AsyncSession, clock: Clock
) -> None:
    # No seeded keyword rule covers «пахнет газом»; the model learnt such messages from the project's examples.
    text = "Пахнет газом на нашей улице, страшно выходить"
    result = await ingest_message(session, message=citizen(text, at=clock()), now=clock())
    assert result.incident is not None
    assert result.incident.classified_by == "model" and result.incident.rule_id is None
    assert result.incident.sector_code == "energy"
    assert result.incident.confidence is not None and result.incident.confidence >= 0.2
