"""Problems: many reports of one trouble («нет света в Жерновце» from twenty people) handled as one.

A new incident joins a problem when an open incident of the same sector, from the same settlement (or, when
neither names one, the same public thread), received within `WINDOW`, says much the same in other words.
The first report leads: its card counts the others, and what staff do to it — accept, reassign, answer,
close — is done to every open report of the problem, each citizen getting the answer where they wrote.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.routing import normalize
from storage.models import Incident, Problem, Status

WINDOW = timedelta(days=3)
# Share of the shorter message's content words found in the other one.
SIMILARITY = 0.5
CANDIDATES = 200
# Reports join a problem while it is still being worked on; after the answer a new report starts afresh.
JOINABLE = (Status.ASSIGNED, Status.IN_PROGRESS)

_STOP_WORDS = """нет не ни уже опять снова еще весь все это этот тот что как когда где который наш ваш мы вы они он
    она оно быть мочь год день неделя месяц очень просить пожалуйста помочь здравствуйте добрый доброе спасибо
    сколько можно почему улица дом село деревня поселок район житель жители администрация так там тут
    здесь вообще совсем просто только также тоже потому который свой наш вопрос проблема сделать делать"""
_STOP = frozenset(_STOP_WORDS.split())


def content_words(text: str, settlement: str | None = None) -> frozenset[str]:
    """The lemmas that carry the meaning, without the settlement's own name (shared by construction)."""
    from handlers.classifier import lemmas  # morphology is loaded with the classifier

    stem = normalize(settlement).strip()[:5] if settlement else ""
    return frozenset(
        w
        for w in lemmas(text).split()
        if len(w) >= 3 and not w.isdigit() and w not in _STOP and not (stem and w.startswith(stem))
    )


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


async def find_peer(session: AsyncSession, incident: Incident) -> Incident | None:
    """The open incident this one most resembles, if it is the same problem."""
    if incident.sector_code is None:
        return None
    query = select(Incident).where(
        Incident.sector_code == incident.sector_code,
        col(Incident.status).in_(JOINABLE),
        Incident.received_at >= incident.received_at - WINDOW,
        Incident.id != incident.id,
    )
    if incident.settlement is not None:
        query = query.where(Incident.settlement == incident.settlement)
    else:
        # No settlement named: only reports in the same public thread (comments under one post) are comparable.
        query = query.where(
            col(Incident.settlement).is_(None),
            Incident.source_id == incident.source_id,
            Incident.thread_ref == incident.thread_ref,
        )
    rows = list(await session.exec(query.order_by(col(Incident.received_at).desc()).limit(CANDIDATES)))
    if not rows:
        return None
    words = content_words(incident.text, incident.settlement)
    best, best_score = None, 0.0
    for row in rows:  # newest first: of equally similar reports, the latest wins
        score = similarity(words, content_words(row.text, row.settlement))
        if score > best_score:
            best, best_score = row, score
    return best if best_score >= SIMILARITY else None


async def join(session: AsyncSession, incident: Incident, peer: Incident, now: datetime) -> Incident:
    """Put the incident into the peer's problem (made now if the peer had none); return the problem's lead."""
    assert peer.id is not None
    if peer.problem_id is not None:
        problem = await session.get(Problem, peer.problem_id)
        assert problem is not None
    else:
        problem = Problem(lead_id=peer.id, sector_code=peer.sector_code, settlement=peer.settlement, created_at=now)
        session.add(problem)
        await session.flush()
        peer.problem_id = problem.id
        session.add(peer)
    incident.problem_id = problem.id
    lead = await session.get(Incident, problem.lead_id)
    assert lead is not None
    return lead


async def is_lead(session: AsyncSession, incident: Incident) -> bool:
    if incident.problem_id is None:
        return False
    problem = await session.get(Problem, incident.problem_id)
    return problem is not None and problem.lead_id == incident.id


async def followers(session: AsyncSession, incident: Incident, *, statuses: tuple[str, ...]) -> list[Incident]:
    """The other reports of the problem this incident leads, in the given statuses; none if it does not lead."""
    if not await is_lead(session, incident):
        return []
    rows = await session.exec(
        select(Incident)
        .where(
            Incident.problem_id == incident.problem_id, Incident.id != incident.id, col(Incident.status).in_(statuses)
        )
        .order_by(col(Incident.id))
    )
    return list(rows)


async def problem_summary(session: AsyncSession, incident: Incident) -> tuple[int | None, int]:
    """(the lead's number, how many reports the problem has), or (None, 1) outside a problem."""
    if incident.problem_id is None:
        return None, 1
    problem = await session.get(Problem, incident.problem_id)
    if problem is None:
        return None, 1
    count = (
        await session.exec(select(func.count()).select_from(Incident).where(Incident.problem_id == problem.id))
    ).one()
    return problem.lead_id, count
