"""The rating of sectors and assignees over the API: the figures, the score and the rank, with the previous period."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.api.dashboard import PeriodOut, incidents_link, resolve_period
from admin.deps import ALL_SECTORS, Now, SessionDep, require, visible_sectors
from handlers import ratings
from storage.models import User

router = APIRouter(prefix="/api/ratings", tags=["ratings"])

# Everyone but a sector head: a head would see the others' figures.
Rater = Annotated[User, Depends(require(*ALL_SECTORS))]


class FiguresOut(BaseModel):
    """One recipient's figures over a period; a share or time is None when there is nothing to measure."""

    incidents: int
    in_time: int
    late: int
    in_time_share: float | None
    reaction_hours: float | None = Field(description="Average calendar hours to the first reaction")
    answer_hours: float | None = Field(description="Average calendar hours to the final answer")
    finished: int = Field(description="Answered or closed")
    closed_unanswered: int
    closed_unanswered_share: float | None
    replies: int
    final_replies: int
    final_share: float | None
    satisfaction: float | None = Field(description="the average citizens' rating 1..5; None: nobody rated")
    score: float | None = Field(description="0..100, see handlers.ratings for the formula")
    rank: int | None = Field(description=f"None: fewer than {ratings.MIN_RANKED} incidents, not ranked")


class RatingRowOut(BaseModel):
    key: str = Field(description="The sector's code or the staff member's id")
    title: str
    link: str = Field(description="The incident list behind the row")
    current: FiguresOut
    previous: FiguresOut | None = Field(description="None: no incidents of theirs in the previous period")
    rank_change: int | None = Field(description="Places moved up since the previous period (negative: down)")
    score_change: float | None


class RatingOut(BaseModel):
    by: str
    period: PeriodOut
    previous_period: PeriodOut
    min_ranked: int
    weights: dict[str, float]
    generated_at: datetime
    rows: list[RatingRowOut]


def _figures(found: ratings.Figures) -> FiguresOut:
    return FiguresOut(
        incidents=found.count,
        in_time=found.in_time,
        late=found.late,
        in_time_share=found.in_time_share,
        reaction_hours=found.reaction_hours,
        answer_hours=found.answer_hours,
        finished=found.finished,
        closed_unanswered=found.closed_unanswered,
        closed_unanswered_share=found.closed_unanswered_share,
        replies=found.replies,
        final_replies=found.final_replies,
        final_share=found.final_share,
        satisfaction=found.satisfaction,
        score=found.score,
        rank=found.rank,
    )


async def build(
    session: AsyncSession, user: User, *, first: date | None, last: date | None, by: ratings.By, now: datetime
) -> RatingOut:
    """The rating this user may see, over the asked Moscow days (by default the last 30)."""
    period = resolve_period(first, last, now)
    days = (period.last - period.first).days + 1
    before = (period.first - timedelta(days=days), period.first - timedelta(days=1))
    found = await ratings.rate(
        session, start=period.start, end=period.end, by=by, sectors=await visible_sectors(session, user), now=now
    )
    span = {"from_": period.first, "to": period.last}
    return RatingOut(
        by=by,
        period=PeriodOut(from_=period.first, to=period.last),
        previous_period=PeriodOut(from_=before[0], to=before[1]),
        min_ranked=ratings.MIN_RANKED,
        weights=ratings.WEIGHTS,
        generated_at=now,
        rows=[
            RatingRowOut(
                key=row.key,
                title=row.title,
                link=incidents_link(**({"sector": row.key} if by == "sector" else {"assignee": row.key}), **span),
                current=_figures(row.current),
                previous=_figures(row.previous) if row.previous is not None else None,
                rank_change=row.rank_change,
                score_change=row.score_change,
            )
            for row in found.rows
        ],
    )


@router.get("")
async def rating(
    session: SessionDep,
    user: Rater,
    now: Now,
    first: Annotated[date | None, Query(alias="from", description="First Moscow day (YYYY-MM-DD)")] = None,
    last: Annotated[date | None, Query(alias="to", description="Last Moscow day (YYYY-MM-DD), included")] = None,
    by: Annotated[Literal["sector", "assignee"], Query(description="Rate sectors or assignees")] = "sector",
) -> RatingOut:
    """Rate the sectors or assignees over the period (by default the last 30 days) against the previous one."""
    return await build(session, user, first=first, last=last, by=by, now=now)
