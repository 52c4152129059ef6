"""Ordered keyword auto-rules: every sector reachable, word-start matching, order and hit counts."""

from __future__ import annotations

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.routing import normalize, route_text, rule_matches
from storage.models import AutoRule

EXAMPLES = [
    ("Третий день нет света на улице Садовой в Жерновце", "energy"),
    ("Когда отремонтируют дорогу на Ломовец? Сплошные ямы", "roads"),
    ("Автобус до Орла не пришёл по расписанию", "transport"),
    ("Нет воды в колонке, водопровод прорвало", "zhkh"),
    ("Не вывозят мусор, контейнер переполнен неделю", "waste"),
    ("Не горит уличное освещение у клуба", "improvement"),
    ("В ФАП нет фельдшера уже месяц", "health"),
    ("Как оформить пособие многодетной семье?", "social"),
    ("В школе холодно, дети сидят в куртках", "education"),
    ("Коровы фермера ходят по огородам, потравили посевы", "agriculture"),
    ("В речке мор рыбы, что-то сбрасывают", "ecology"),
    ("Соседи самовольно захватили часть земельного участка", "land"),
    ("Заброшенное здание бывшей конторы разваливается, это муниципальное имущество", "property"),
]


@pytest.mark.parametrize(("text", "sector"), EXAMPLES)
async def test_seeded_rules_reach_every_sector(session: AsyncSession, text: str, sector: str) -> None:
    routing = await route_text(session, text=text)
    assert routing.sector_code == sector


def test_normalize_folds_case_yo_and_punctuation() -> None:
    assert normalize("Ёлки-Палки!!  ДОРОГА") == " елки палки дорога "


def test_stems_match_only_at_word_start() -> None:
    rule = AutoRule(name="r", keywords="яма\nнет света")
    assert rule_matches(rule, "Большая ЯМА!")
    assert rule_matches(rule, "У нас нет  света")
    assert not rule_matches(rule, "Упрямая проблема")


def test_pattern_and_source_kind_conditions() -> None:
    rule = AutoRule(name="r", keywords="", pattern=r"\bд\.\s*\d+", source_kind="tg_group")
    assert rule_matches(rule, "у д. 5", source_kind="tg_group")
    assert not rule_matches(rule, "у д. 5", source_kind="tg_direct")


async def test_first_rule_by_position_wins_and_counts_hits(session: AsyncSession) -> None:
    session.add(AutoRule(position=1, name="Срочно: свет у больницы", keywords="больниц", sector_code="energy"))
    await session.commit()
    routing = await route_text(session, text="У больницы нет света")
    assert routing.sector_code == "energy" and routing.classified_by == "rule"
    rule = await session.get(AutoRule, routing.rule_id)
    assert rule is not None and rule.hits == 1
