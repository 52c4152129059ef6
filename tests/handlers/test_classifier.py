"""The sector classifier: lemmas, training, ranked predictions, and the trained model kept across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.classifier import NOT_INCIDENT, SectorClassifier, lemmas, shipped_examples, train_shipped


def test_case_forms_share_a_lemma() -> None:
    assert lemmas("Дороге, дорогам, ДОРОГУ!") == "дорога дорога дорога"
    assert lemmas("Нет света") == lemmas("нет свет")


def test_predictions_rank_every_sector() -> None:
    model = SectorClassifier().fit(
        ["яма на дороге", "дорогу разбили", "нет воды в колонке", "водопровод прорвало"],
        ["roads", "roads", "zhkh", "zhkh"],
    )
    prediction = model.predict("опять нет воды")
    assert prediction.sector == "zhkh" and prediction.confidence > 0.5
    assert [s for s, _ in prediction.ranked] == ["zhkh", "roads"]
    assert abs(sum(p for _, p in prediction.ranked) - 1) < 1e-6
    with pytest.raises(ValueError):
        SectorClassifier().fit(["a"], ["roads"])
    with pytest.raises(RuntimeError):
        SectorClassifier().predict("x")


def test_shipped_examples_cover_every_sector_and_triage() -> None:
    texts, sectors = shipped_examples()
    assert len(texts) == len(sectors) > 1000
    counts = {s: sectors.count(s) for s in set(sectors)}
    assert set(counts) == {
        "zhkh", "roads", "transport", "energy", "improvement", "health", "social", "education",
        "agriculture", "ecology", "waste", "property", "land", "other", NOT_INCIDENT,
    }  # fmt: skip
    assert min(counts.values()) >= 70


def test_trained_model_is_kept_and_a_broken_copy_is_replaced(tmp_path: Path) -> None:
    first = train_shipped(tmp_path)
    [kept] = list(tmp_path.glob("classifier-*.pickle"))
    again = train_shipped(tmp_path)
    assert again.predict("Не вывозят мусор, контейнер переполнен").sector == "waste"
    assert first.predict("Не вывозят мусор").sector == again.predict("Не вывозят мусор").sector
    kept.write_bytes(b"garbage")
    assert train_shipped(tmp_path).trained
    assert kept.read_bytes() != b"garbage"
