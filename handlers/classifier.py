"""A trained sector classifier for Russian citizen text: lemmas and character n-grams into logistic regression."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import os
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pymorphy3
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from storage.models import RoutingExample

log = logging.getLogger(__name__)

_WORD = re.compile(r"[а-яёa-z0-9]+", re.IGNORECASE)
NOT_INCIDENT = "not_incident"


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=200_000)
def lemma(word: str) -> str:
    """The dictionary form of a word («ямы» → «яма»), so that every case form counts as one feature."""
    if not word.isalpha() or len(word) < 3:
        return word
    return str(_morph().parse(word)[0].normal_form)


def lemmas(text: str) -> str:
    return " ".join(lemma(w) for w in _WORD.findall(text.lower().replace("ё", "е")))


@dataclass(frozen=True, slots=True)
class Prediction:
    sector: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]  # every sector with its probability, best first


class SectorClassifier:
    """Fit on (text, sector) pairs; predict a sector with a calibrated-enough probability."""

    def __init__(self, *, c: float = 8.0) -> None:
        self.words = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)
        self.model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
        self.trained = False

    def _features(self, texts: Sequence[str], *, fit: bool) -> object:
        normal = [lemmas(t) for t in texts]
        lowered = [t.lower().replace("ё", "е") for t in texts]
        if fit:
            return hstack([self.words.fit_transform(normal), self.chars.fit_transform(lowered)]).tocsr()
        return hstack([self.words.transform(normal), self.chars.transform(lowered)]).tocsr()

    def fit(self, texts: Sequence[str], sectors: Sequence[str]) -> SectorClassifier:
        if len(set(sectors)) < 2:
            raise ValueError("at least two sectors are needed to train")
        self.model.fit(self._features(texts, fit=True), list(sectors))
        self.trained = True
        return self

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        if not self.trained:
            raise RuntimeError("the classifier is not trained")
        probabilities = self.model.predict_proba(self._features(texts, fit=False))
        classes = [str(c) for c in self.model.classes_]
        result = []
        for row in probabilities:
            order = np.argsort(row)[::-1]
            ranked = tuple((classes[i], float(row[i])) for i in order)
            result.append(Prediction(sector=ranked[0][0], confidence=ranked[0][1], ranked=ranked))
        return result

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]


def read_examples(rows: Iterable[dict[str, str]]) -> tuple[list[str], list[str]]:
    texts, sectors = [], []
    for row in rows:
        text, sector = (row.get("text") or "").strip(), (row.get("sector") or "").strip()
        if text and sector:
            texts.append(text)
            sectors.append(sector)
    return texts, sectors


def shipped_examples() -> tuple[list[str], list[str]]:
    """The project's own labelled examples (storage/seed/routing_examples.csv), written for this district."""
    data = resources.files("storage").joinpath("seed/routing_examples.csv").read_text(encoding="utf-8")
    return read_examples(csv.DictReader(io.StringIO(data)))


def _examples_digest(texts: Sequence[str], sectors: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text, sector in zip(texts, sectors, strict=True):
        digest.update(f"{sector}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def train_shipped(
    cache_dir: Path | None = None, *, extra: tuple[Sequence[str], Sequence[str]] = ((), ())
) -> SectorClassifier:
    """The model of the project's own examples plus `extra` (staff corrections, imported history).

    Kept in `cache_dir` under a digest of everything it learnt from, so that a restart loads it in a moment.
    """
    own_texts, own_sectors = shipped_examples()
    texts, sectors = [*own_texts, *extra[0]], [*own_sectors, *extra[1]]
    path = cache_dir / f"classifier-{_examples_digest(texts, sectors)}.pickle" if cache_dir else None
    if path is not None and path.exists():
        try:
            with path.open("rb") as f:
                model = pickle.load(f)  # our own file, written below from our own examples
            if isinstance(model, SectorClassifier):
                return model
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            log.warning("cached classifier %s unreadable; training again", path)
    model = SectorClassifier().fit(texts, sectors)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                pickle.dump(model, f)
            tmp.replace(path)
        except OSError:
            log.warning("could not keep the trained classifier in %s", path)
    return model


def cache_dir() -> Path:
    """Where trained models are kept (MCU_CACHE_DIR; data/cache by default)."""
    return Path(os.environ.get("MCU_CACHE_DIR", "data/cache"))


_current: SectorClassifier | None = None


def default_classifier() -> SectorClassifier:
    """The process's classifier: the one last trained, or the shipped one (the composition root warms it up)."""
    global _current
    if _current is None:
        _current = train_shipped(cache_dir())
    return _current


def use_classifier(model: SectorClassifier) -> None:
    """Swap in a newly trained model; routing picks it up with the next message."""
    global _current
    _current = model


async def learned_examples(session: AsyncSession) -> tuple[list[str], list[str]]:
    """What staff taught the classifier: corrections of routing and imported history."""
    rows = await session.exec(select(RoutingExample).order_by(col(RoutingExample.id)))
    texts, sectors = [], []
    for row in rows:
        texts.append(row.text)
        sectors.append(row.sector_code)
    return texts, sectors


async def retrain(session: AsyncSession) -> SectorClassifier:
    """Train on the shipped and the learned examples (in a thread: it takes seconds) and put the model in use."""
    extra = await learned_examples(session)
    model = await asyncio.to_thread(train_shipped, cache_dir(), extra=extra)
    use_classifier(model)
    log.info("classifier trained on %s learned examples", len(extra[0]))
    return model


async def import_examples(
    session: AsyncSession, *, rows: Iterable[dict[str, str]], known_sectors: set[str], now: datetime
) -> int:
    """Add a history of labelled messages (columns text, sector); refuse the file if a sector is unknown."""
    texts, sectors = read_examples(rows)
    unknown = sorted(set(sectors) - known_sectors)
    if unknown:
        raise InvalidInput(
            f"Неизвестные блоки в файле: {', '.join(unknown)}. Возможные: {', '.join(sorted(known_sectors))}."
        )
    for text, sector in zip(texts, sectors, strict=True):
        session.add(RoutingExample(text=text, sector_code=sector, origin="import", created_at=now))
    await session.commit()
    return len(texts)
