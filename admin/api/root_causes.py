"""Root causes over the API: problems that keep coming back (a sector in a settlement across weeks) and the
steps of the plan («дорожная карта») recorded against them."""

# No `from __future__ import annotations`: FastAPI reads these annotations at runtime.

from collections.abc import Awaitable
from datetime import date, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from admin.api.dashboard import incidents_link
from admin.deps import MANAGERS, CurrentUser, Now, SessionDep, refused, require, visible_sectors
from handlers import audit, root_causes
from handlers.errors import DomainError
from storage.models import RoadmapStep, Role, User

router = APIRouter(prefix="/api/root-causes", tags=["root causes"])

# Everyone logged in reads (a sector head only their sectors); managers and officers record the plan.
EDITORS = MANAGERS | {Role.OFFICER}
Editor = Annotated[User, Depends(require(*EDITORS))]

T = TypeVar("T")


async def _do(work: Awaitable[T]) -> T:
    try:
        return await work
    except DomainError as error:
        raise refused(error) from error


class StepOut(BaseModel):
    id: int
    sector_code: str
    settlement: str
    text: str
    due: date | None
    created_at: datetime
    created_by: str
    done_at: datetime | None


class StepIn(BaseModel):
    sector_code: str
    settlement: str
    text: str = Field(description=f"{root_causes.TEXT_MIN}–{root_causes.TEXT_MAX} characters")
    due: date | None = None


class ProblemOut(BaseModel):
    sector_code: str
    sector_title: str
    settlement: str
    weekly: list[int] = Field(description="Incidents per week, oldest to newest (as `weeks` of the answer)")
    total: int
    open: int
    last_at: datetime = Field(description="When the latest of its incidents was received")
    link: str = Field(description="The incident list of this sector and settlement")
    steps: list[StepOut]


class RecurringOut(BaseModel):
    weeks: list[date] = Field(description="The Mondays of the weeks looked at, oldest to newest")
    min_weeks: int
    generated_at: datetime
    problems: list[ProblemOut]


def step_out(step: RoadmapStep) -> StepOut:
    return StepOut.model_validate(step.model_dump())


async def build(session: AsyncSession, user: User, *, weeks: int, min_weeks: int, now: datetime) -> RecurringOut:
    """The recurring problems this user may see."""
    found = await _do(
        root_causes.recurring(
            session, now=now, weeks=weeks, min_weeks=min_weeks, sectors=await visible_sectors(session, user)
        )
    )
    return RecurringOut(
        weeks=found.week_starts,
        min_weeks=min_weeks,
        generated_at=now,
        problems=[
            ProblemOut(
                sector_code=row.sector_code,
                sector_title=row.sector_title,
                settlement=row.settlement,
                weekly=row.weekly,
                total=row.total,
                open=row.open,
                last_at=row.last_at,
                link=incidents_link(sector=row.sector_code, settlement=row.settlement),
                steps=[step_out(s) for s in row.steps],
            )
            for row in found.rows
        ],
    )


@router.get("")
async def recurring(
    session: SessionDep,
    user: CurrentUser,
    now: Now,
    weeks: Annotated[int, Query(description="How many Monday–Sunday weeks, the current one last")] = 8,
    min_weeks: Annotated[int, Query(description="In at least this many of them")] = 3,
) -> RecurringOut:
    """Problems (a sector in a settlement) with incidents in at least `min_weeks` of the last `weeks` weeks."""
    return await build(session, user, weeks=weeks, min_weeks=min_weeks, now=now)


@router.post("/steps", status_code=status.HTTP_201_CREATED)
async def step_add(body: StepIn, session: SessionDep, user: Editor, now: Now) -> StepOut:
    """Record a step of the plan against the problem of this sector in this settlement."""
    audit.note(
        session,
        user=user,
        action="roadmap_step_added",
        target="roadmap_step",
        now=now,
        sector_code=body.sector_code,
        settlement=body.settlement,
        text=body.text,
        due=body.due.isoformat() if body.due else None,
    )
    step = await _do(root_causes.add_step(session, **body.model_dump(), login=user.login, now=now))
    return step_out(step)


@router.post("/steps/{step_id}/done")
async def step_done(step_id: int, session: SessionDep, user: Editor, now: Now) -> StepOut:
    """Mark a step of the plan done."""
    audit.note(session, user=user, action="roadmap_step_done", target=f"roadmap_step:{step_id}", now=now)
    return step_out(await _do(root_causes.complete_step(session, step_id=step_id, now=now)))
