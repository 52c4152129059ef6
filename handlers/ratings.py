"""The rating of responsible recipients (sectors or assignees) over a period, with the change since the last one.

**Which incidents.** Those *received* in the period (`start` included, `end` not), not «не инцидент» and not
duplicates, grouped by their sector (`by="sector"`) or by their assignee (`by="assignee"`); incidents with no
sector (or no assignee) belong to no one and are left out. The previous period is the one of equal length that
ends where this one starts.

**Figures of a recipient**, each None («нет данных») when there is nothing to measure:

- incidents: how many;
- in time: the share answered within the deadline, by the rule of `handlers.stats` (first reaction no later than
  the reaction deadline; for 59-ФЗ appeals the final answer no later than the deadline; incidents whose deadline
  is still ahead are judged neither way);
- time to the first reaction and to the final answer: the average in calendar hours from the citizen's message;
- closed without an answer: of the finished incidents (answered, or closed), the share closed with no final
  answer;
- final answers: of all the answers written to the citizens of these incidents (interim and final), the share
  that were final;
- satisfaction: the average of the citizens' ratings (1–5) given in the survey after a final answer; None
  («нет данных») when nobody rated, and then it takes no part in the score (its weight goes to the other terms,
  as below).

**Overall score, 0–100.** Each figure becomes points 0–100, and the score is their weighted average:

| term | weight | points |
|---|---|---|
| in time | 40 | the share × 100 |
| time to the first reaction | 15 | 100 up to 1 hour, 0 from 25 hours, straight line between |
| time to the final answer | 15 | 100 up to 24 hours, 0 from 240 hours (10 days), straight line between |
| closed without an answer | 10 | (1 − the share) × 100 |
| final answers | 10 | the share × 100 |
| satisfaction | 10 | the average rating on a 1–5 scale: 1 → 0, 5 → 100 |

A term without data is left out and its weight shared among the others in proportion to theirs (the score is
Σ weight × points / Σ weight over the terms that have data); with no term at all the score is None.

**Ranking.** Only recipients with at least `MIN_RANKED` (3) incidents in the period and a score are ranked: by
the score, highest first; equal scores (rounded to 0.1) share a rank and the next rank skips («1, 1, 3»). Those
with fewer incidents are listed, with their figures and score, but get no rank. The change since the previous
period: rank change = previous rank − rank (positive: moved up), score change = score − previous score; None
when either is missing.

Everything is counted by the database: one grouped query over the incidents and one over their answers per
period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.stats import NOT_JUDGED, _count, _seconds, judgement
from storage.models import Incident, Reply, Sector, Staff, Status

By = Literal["sector", "assignee"]

MIN_RANKED = 3
WEIGHTS = {
    "in_time": 40.0,
    "reaction": 15.0,
    "answer": 15.0,
    "closed_unanswered": 10.0,
    "final": 10.0,
    "satisfaction": 10.0,
}
# (hours that earn every point, hours from which no point is earned)
REACTION_HOURS = (1.0, 25.0)
ANSWER_HOURS = (24.0, 240.0)


@dataclass(slots=True)
class Figures:
    """One recipient's figures over one period; a share or time is None when there is nothing to measure."""

    count: int
    in_time: int
    late: int
    reaction_hours: float | None
    answer_hours: float | None
    finished: int
    closed_unanswered: int
    replies: int
    final_replies: int
    satisfaction: float | None = None  # the average rating 1..5, None when nobody rated
    score: float | None = None
    rank: int | None = None

    @property
    def in_time_share(self) -> float | None:
        judged = self.in_time + self.late
        return self.in_time / judged if judged else None

    @property
    def closed_unanswered_share(self) -> float | None:
        return self.closed_unanswered / self.finished if self.finished else None

    @property
    def final_share(self) -> float | None:
        return self.final_replies / self.replies if self.replies else None

    @property
    def ranked(self) -> bool:
        return self.rank is not None


@dataclass(slots=True)
class RatingRow:
    key: str  # the sector's code or the staff member's id
    title: str
    current: Figures
    previous: Figures | None  # None: no incidents of theirs in the previous period

    @property
    def rank_change(self) -> int | None:
        """Places moved up since the previous period (negative: down)."""
        if self.current.rank is None or self.previous is None or self.previous.rank is None:
            return None
        return self.previous.rank - self.current.rank

    @property
    def score_change(self) -> float | None:
        if self.current.score is None or self.previous is None or self.previous.score is None:
            return None
        return self.current.score - self.previous.score


@dataclass(slots=True)
class Rating:
    by: By
    start: datetime
    end: datetime
    previous_start: datetime
    rows: list[RatingRow]  # ranked first by rank, then the unranked by the number of incidents


def _linear(value: float, best: float, worst: float) -> float:
    """100 points up to `best`, 0 from `worst`, a straight line between."""
    if value <= best:
        return 100.0
    if value >= worst:
        return 0.0
    return 100.0 * (worst - value) / (worst - best)


def points(figures: Figures) -> dict[str, float | None]:
    """Each term of the score as 0–100 points (None: no data), by the table in the module's docstring."""
    unanswered = figures.closed_unanswered_share
    return {
        "in_time": None if figures.in_time_share is None else 100.0 * figures.in_time_share,
        "reaction": None if figures.reaction_hours is None else _linear(figures.reaction_hours, *REACTION_HOURS),
        "answer": None if figures.answer_hours is None else _linear(figures.answer_hours, *ANSWER_HOURS),
        "closed_unanswered": None if unanswered is None else 100.0 * (1 - unanswered),
        "final": None if figures.final_share is None else 100.0 * figures.final_share,
        "satisfaction": None if figures.satisfaction is None else 25.0 * (figures.satisfaction - 1),
    }


def score(figures: Figures) -> float | None:
    """The weighted average of the terms that have data; None when none has."""
    present = {term: value for term, value in points(figures).items() if value is not None}
    weight = sum(WEIGHTS[term] for term in present)
    return sum(WEIGHTS[term] * value for term, value in present.items()) / weight if weight else None


def _rank(figures: Sequence[Figures]) -> None:
    """Competition ranking («1, 1, 3») by score among those with enough incidents."""
    eligible = sorted(
        (f for f in figures if f.count >= MIN_RANKED and f.score is not None),
        key=lambda f: -round(f.score or 0.0, 1),
    )
    for place, found in enumerate(eligible, start=1):
        before = eligible[place - 2] if place > 1 else None
        same = before is not None and round(before.score or 0.0, 1) == round(found.score or 0.0, 1)
        found.rank = before.rank if same and before is not None else place


def _group(by: By) -> Any:
    return col(Incident.sector_code) if by == "sector" else col(Incident.assignee_id)


async def _figures(
    session: AsyncSession, *, start: datetime, end: datetime, by: By, sectors: list[str] | None, now: datetime
) -> dict[str, Figures]:
    group = _group(by)
    where: list[ColumnElement[bool]] = [
        col(Incident.received_at) >= start,
        col(Incident.received_at) < end,
        col(Incident.status).not_in(NOT_JUDGED),
        group.is_not(None),
    ]
    if sectors is not None:
        where.append(col(Incident.sector_code).in_(sectors))
    in_time, late = judgement(now)
    reacted, answered = col(Incident.first_reaction_at), col(Incident.answered_at)
    to_reaction = _seconds(session, col(Incident.received_at), reacted)
    to_answer = _seconds(session, col(Incident.received_at), answered)
    closed = col(Incident.status) == Status.CLOSED
    columns: list[Any] = [
        group,
        func.count(),
        _count(in_time),
        _count(late),
        func.avg(case((reacted.is_not(None), to_reaction))),
        func.avg(case((answered.is_not(None), to_answer))),
        _count(or_(answered.is_not(None), closed)),
        _count(and_(closed, answered.is_(None))),
        func.avg(col(Incident.rating)),
    ]
    rows = await session.exec(select(*columns).where(*where).group_by(group))
    found = {
        str(key): Figures(
            count=int(n),
            in_time=int(a),
            late=int(b),
            reaction_hours=None if reaction is None else float(reaction) / 3600,
            answer_hours=None if answer is None else float(answer) / 3600,
            finished=int(finished),
            closed_unanswered=int(unanswered),
            replies=0,
            final_replies=0,
            satisfaction=None if rating is None else float(rating),
        )
        for key, n, a, b, reaction, answer, finished, unanswered, rating in rows
    }
    final = col(Reply.is_final)
    replies = await session.exec(
        select(group, func.count(col(Reply.id)), _count(final == True))  # noqa: E712 (SQL, not Python)
        .join(Incident, col(Reply.incident_id) == col(Incident.id))
        .where(*where)
        .group_by(group)
    )
    for key, n, n_final in replies:
        figures = found.get(str(key))
        if figures is not None:
            figures.replies, figures.final_replies = int(n), int(n_final)
    for figures in found.values():
        figures.score = score(figures)
    _rank(list(found.values()))
    return found


async def _titles(session: AsyncSession, by: By, keys: set[str]) -> dict[str, str]:
    if not keys:
        return {}
    if by == "sector":
        return {s.code: s.title for s in await session.exec(select(Sector).where(col(Sector.code).in_(keys)))}
    ids = [int(key) for key in keys]
    return {str(s.id): s.full_name for s in await session.exec(select(Staff).where(col(Staff.id).in_(ids)))}


async def rate(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    by: By = "sector",
    sectors: list[str] | None = None,
    now: datetime,
) -> Rating:
    """Rate the sectors (or assignees) over the incidents received from `start` to `end`, and the previous period
    of equal length, by the rules in the module's docstring; `sectors` limits it to these sectors (None: all).

    Satisfaction is part of the figures and of the formula but has no data yet (the survey is not built): it is
    None, left out of the score, and its weight shared among the other terms."""
    if by not in ("sector", "assignee"):
        raise ValueError(f"unknown grouping: {by}")
    previous_start = start - (end - start)
    current = await _figures(session, start=start, end=end, by=by, sectors=sectors, now=now)
    previous = await _figures(session, start=previous_start, end=start, by=by, sectors=sectors, now=now)
    titles = await _titles(session, by, set(current))
    rows = [
        RatingRow(key=key, title=titles.get(key, key), current=figures, previous=previous.get(key))
        for key, figures in current.items()
    ]
    rows.sort(
        key=lambda r: (
            r.current.rank is None,
            r.current.rank or 0,
            -r.current.count,
            -(r.current.score or 0.0),
            r.title,
        )
    )
    return Rating(by=by, start=start, end=end, previous_start=previous_start, rows=rows)
