"""Intake speed: citizen messages per second into stored, routed incidents with their outbox rows (SQLite).

Run: .venv/bin/python -m benchmarks.intake [COUNT]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import func, select

from handlers.directory import seed_directory, set_staff_chat
from handlers.incidents import ingest_message
from handlers.types import AuthorRef, CitizenMessage, SourceRef
from storage.db import create_engine, create_session_pool
from storage.migrate import upgrade
from storage.models import Incident, Outbox, Staff

TEXTS = [
    "Огромная яма на дороге у школы, машины бьют колёса",
    "Третий день нет света на улице Садовой",
    "Не вывозят мусор, контейнеры переполнены",
    "Когда починят водопровод? Нет воды с утра",
    "Автобус до Орла не пришёл по расписанию",
    "Добрый день, подскажите, куда обратиться по поводу пособия",
]


async def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        pool = create_session_pool(engine)
        async with pool() as session:
            await seed_directory(session)
            await set_staff_chat(session, staff=None, chat_id=-100500)
            for staff in await session.exec(select(Staff)):
                staff.telegram_id = 7000 + (staff.id or 0)
                session.add(staff)
            await session.commit()
        source = SourceRef(platform="telegram", kind="tg_direct", external_id="bot1")
        start = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
        latencies: list[float] = []
        began = time.perf_counter()
        for n in range(count):
            message = CitizenMessage(
                source=source,
                external_id=f"{n}:1",
                thread_id=str(n),
                chat_id=str(n),
                message_id="1",
                author=AuthorRef(platform="telegram", external_id=str(n), name=f"Житель {n}"),
                text=TEXTS[n % len(TEXTS)],
                sent_at=start + timedelta(seconds=n),
            )
            t0 = time.perf_counter()
            async with pool() as session:
                await ingest_message(session, message=message, now=message.sent_at)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - began
        async with pool() as session:
            incidents = (await session.exec(select(func.count()).select_from(Incident))).one()
            rows = (await session.exec(select(func.count()).select_from(Outbox))).one()
        await engine.dispose()
    latencies.sort()
    out = sys.stdout.write
    out(f"command: .venv/bin/python -m benchmarks.intake {count}\n")
    out(
        f"{incidents} incidents, {rows} outbox rows in {elapsed:.2f} s: "
        f"{count / elapsed:.0f} messages/s (SQLite, one writer)\n"
    )
    out(f"per message: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms\n")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
