"""Routing of a citizen message to a sector: ordered keyword auto-rules kept in the database, then the model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import noise
from storage.models import AutoRule

FALLBACK_SECTOR = "other"
NOT_INCIDENT = "not_incident"  # the classifier's label for what needs no answer (thanks, spam…)
# Below this probability the model's guess is not trusted (measured on dev.csv: `python -m benchmarks.routing`).
# Guesses of 0.20-0.25 were right for 43% of messages (ryazan 50%, spb 39%), those of 0.25-0.30 for 59%, while
# the officer's three buttons held the right sector for 84%: from 0.25 the guess is right more often than not.
# 0.25 decides 91.7% of messages at 0.784 accuracy (0.2: 95.7% at 0.769; 0.3: 87.5% at 0.793).
MODEL_THRESHOLD = 0.25
# From this probability the model's «not an incident» is offered first in triage (never applied by itself).
NOT_INCIDENT_THRESHOLD = 0.7
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
    classified_by: str  # noise | rule | model | default
    rule_id: int | None = None
    confidence: float | None = None
    # Set when the message is plainly not an incident: why (handlers.noise reasons); it is logged, not routed.
    not_incident: str | None = None
    # Set when the officer must choose (triage): the model's best guesses with their probabilities.
    suggestions: tuple[tuple[str, float], ...] = ()
    # In triage: how likely the model thinks it is not an incident at all, when that is its firm opinion.
    not_incident_p: float | None = None


def model_guesses(text: str) -> tuple[tuple[tuple[str, float], ...], float]:
    """The model's best sectors with their probabilities, and its probability that this is not an incident."""
    # Imported here: scikit-learn and the morphology dictionaries are heavy, and most commands never route.
    from handlers.classifier import default_classifier

    if not text.strip():
        return (), 0.0
    ranked = default_classifier().predict(text).ranked
    guesses = tuple((s, round(p, 3)) for s, p in ranked if s != NOT_INCIDENT)[:SUGGESTIONS]
    return guesses, next((round(p, 3) for s, p in ranked if s == NOT_INCIDENT), 0.0)


async def route_text(
    session: AsyncSession, *, text: str, source_kind: str | None = None, has_attachments: bool = False
) -> Routing:
    """Plain noise is set aside; else the first active rule (by position) that matches decides; else the model
    if it is sure enough; else triage by the officer."""
    reason = noise.not_incident_reason(text, has_attachments=has_attachments)
    if reason is not None:
        return Routing(sector_code=None, classified_by="noise", not_incident=reason)
    rules = await session.exec(
        select(AutoRule).where(col(AutoRule.active).is_(True)).order_by(col(AutoRule.position), col(AutoRule.id))
    )
    for rule in rules:
        if rule_matches(rule, text, source_kind=source_kind):
            rule.hits += 1
            session.add(rule)
            if rule.not_incident:
                return Routing(sector_code=None, classified_by="rule", rule_id=rule.id, not_incident=noise.RULE)
            return Routing(sector_code=rule.sector_code, classified_by="rule", rule_id=rule.id)
    guesses, not_incident_p = model_guesses(text)
    if not guesses:
        return Routing(sector_code=FALLBACK_SECTOR, classified_by="default")
    sector, confidence = guesses[0]
    if not_incident_p >= NOT_INCIDENT_THRESHOLD:
        return Routing(
            sector_code=None,
            classified_by="model",
            confidence=confidence,
            suggestions=guesses,
            not_incident_p=not_incident_p,
        )
    if confidence < MODEL_THRESHOLD:
        # Too unsure to bother a sector head: the officer picks the sector from the model's best guesses.
        return Routing(sector_code=None, classified_by="model", confidence=confidence, suggestions=guesses)
    return Routing(sector_code=sector, classified_by="model", confidence=confidence)
