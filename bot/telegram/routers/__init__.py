"""The bot's routers, in the order the dispatcher tries them."""

from __future__ import annotations

from aiogram import Router

from bot.telegram.routers import cards, citizen, errors, staff


def create_routers() -> list[Router]:
    return [errors.create_router(), staff.create_router(), cards.create_router(), citizen.create_router()]
