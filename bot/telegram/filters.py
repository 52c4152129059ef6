"""Filters on who is speaking: a linked staff member or a citizen."""

from __future__ import annotations

from storage.models import Staff


async def is_staff(_event: object, staff: Staff | None) -> bool:
    return staff is not None


async def is_citizen(_event: object, staff: Staff | None) -> bool:
    return staff is None
