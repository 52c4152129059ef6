"""Routing of a citizen message to a sector: ordered keyword auto-rules kept in the database, then the model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AutoRule

FALLBACK_SECTOR = "other"
# Below this probability the model's guess is not trusted (measured on dev.csv: `python -m benchmarks.routing`).
MODEL_THRESHOLD = 0.2
SUGGESTIONS = 3

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


def normalize(text: str) -> str:
    """Lower case, ё as е, every run of non-letters as one space, padded so stems match at word starts."""
    return " " + _NON_WORD.sub(" ", text.lower().replace("ё", "е")).strip() + " "


def split_keywords(keywords: str) -> list[str]:
    return [k for k in (normalize(line).strip() for line in keywords.splitlines()) if k]


@lru_cache(maxsize=1024)
def _compile(keywords: str, pattern: str | None) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    stems = split_keywords(keywords)
    by_stem = re.compile(" (?:" + "|".join(re.escape(s) for s in stems) + ")") if stems else None
    by_pattern = re.compile(pattern, re.IGNORECASE) if pattern else None
    return by_stem, by_pattern


def rule_matches(rule: AutoRule, text: str, *, source_kind: str | None = None) -> bool:
    """Whether the rule fires: a keyword stem starts a word, or the pattern is found; and the source fits."""
    if rule.source_kind and rule.source_kind != source_kind:
        return False
    by_stem, by_pattern = _compile(rule.keywords, rule.pattern)
    if by_stem is not None and by_stem.search(normalize(text)):
        return True
    return by_pattern is not None and by_pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class Routing:
    sector_code: str | None
    classified_by: str  # rule | model | default
    rule_id: int | None = None
    not_incident: bool = False
    confidence: float | None = None
    # Set when the officer must choose (triage): the model's best guesses with their probabilities.
    suggestions: tuple[tuple[str, float], ...] = ()


async def route_text(session: AsyncSession, *, text: str, source_kind: str | None = None) -> Routing:
    """The first active rule (by position) that matches decides; else the model if it is sure enough; else triage."""
    rules = await session.exec(
        select(AutoRule).where(col(AutoRule.active).is_(True)).order_by(col(AutoRule.position), col(AutoRule.id))
    )
    for rule in rules:
        if rule_matches(rule, text, source_kind=source_kind):
            rule.hits += 1
            session.add(rule)
            return Routing(
                sector_code=rule.sector_code, classified_by="rule", rule_id=rule.id, not_incident=rule.not_incident
            )
    # No rule fired: the classifier trained on the project's own examples names the likeliest sector.
    # Imported here: scikit-learn and the morphology dictionaries are heavy, and most commands never route.
    from handlers.classifier import NOT_INCIDENT, default_classifier

    prediction = default_classifier().predict(text) if text.strip() else None
    if prediction is None:
        return Routing(sector_code=FALLBACK_SECTOR, classified_by="default")
    guesses = tuple((s, round(p, 3)) for s, p in prediction.ranked if s != NOT_INCIDENT)[:SUGGESTIONS]
    sector, confidence = guesses[0] if guesses else (FALLBACK_SECTOR, 0.0)
    if confidence < MODEL_THRESHOLD:
        # Too unsure to bother a sector head: the officer picks the sector from the model's best guesses.
        return Routing(sector_code=None, classified_by="model", confidence=confidence, suggestions=guesses)
    return Routing(sector_code=sector, classified_by="model", confidence=confidence)
