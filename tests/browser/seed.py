"""Citizen messages and a staff login for the browser tests, put in through the product's own intake.

Run as `python -m tests.browser.seed DATABASE_URL LOGIN PASSWORD` against a database that `mcu` has migrated,
before `mcu run` starts: every incident is made by `ingest_message`, as if the bot had received it, so the pages
show what the product itself recorded (routing, settlement, deadline, timeline).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from handlers.incidents import accept_incident, ingest_message
from handlers.types import AuthorRef, CitizenMessage, SourceRef
from handlers.users import create_user
from storage.db import create_engine, create_session_pool
from storage.models import SourceKind, Staff

DIRECT = SourceRef(platform="telegram", kind=SourceKind.TG_DIRECT, external_id="browser-bot")
# The officer (ответственный за аккаунты) may act on every sector: the pages' actions are done as her.
OFFICER = "Суркова Ольга Ивановна"


@dataclass(frozen=True)
class Message:
    text: str
    author: str
    days_ago: int = 0  # older than the reaction deadline: overdue
    accept: bool = False  # taken into work by the officer


# Each is routed by the shipped rules (not by the model's guess), so the sector a test expects is certain.
MESSAGES = (
    Message("Яма на дороге у школы в Тросне, машины бьют колёса", "Иван Петров"),
    Message("В Жерновце нет воды третий день, водокачка не работает", "Мария Сидорова"),
    Message("Школьный автобус в Муравль сегодня не пришёл, ученики опоздали", "Ольга Кузнецова"),
    Message("Не горят фонари на улице Ленина в Гранкино", "Пётр Смирнов", accept=True),
    Message("Грейдер так и не прошёл по дороге на Ломовец, после дождя не проехать", "Андрей Волков", days_ago=5),
    Message("Спасибо!", "Нина Орлова"),
)


async def seed(database_url: str, login: str, password: str) -> None:
    engine = create_engine(database_url)
    numbers = itertools.count(1)
    try:
        async with create_session_pool(engine)() as session:
            officer = (await session.exec(select(Staff).where(Staff.full_name == OFFICER))).one()
            assert officer.id is not None
            await create_user(session, login=login, password=password, role="officer", staff_id=officer.id)
            for person, message in enumerate(MESSAGES, start=7001):
                at = datetime.now(UTC) - timedelta(days=message.days_ago)
                number = next(numbers)
                result = await ingest_message(
                    session,
                    message=CitizenMessage(
                        source=DIRECT,
                        external_id=f"{person}:{number}",
                        thread_id=str(person),
                        chat_id=str(person),
                        message_id=str(number),
                        author=AuthorRef(platform="telegram", external_id=str(person), name=message.author),
                        text=message.text,
                        sent_at=at,
                        private=True,
                    ),
                    now=at,
                )
                assert result.incident is not None and result.incident.id is not None, message
                if message.accept:
                    await accept_incident(session, incident_id=result.incident.id, staff=officer, now=at)
    finally:
        await engine.dispose()


def main() -> None:
    database_url, login, password = sys.argv[1:4]
    asyncio.run(seed(database_url, login, password))


if __name__ == "__main__":
    main()
