"""The sector classifier: lemmas, training, ranked predictions, and the trained model kept across restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.classifier import (
    NOT_INCIDENT,
    SectorClassifier,
    import_examples,
    learned_examples,
    lemmas,
    shipped_examples,
    train_shipped,
)
from handlers.errors import InvalidInput
from handlers.incidents import ingest_message, reassign_incident
from storage.models import Staff
from tests.conftest import Clock
from tests.factories import citizen


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


async def test_corrections_and_imports_are_learned(session: AsyncSession, clock: Clock, tmp_path: Path) -> None:
    officer = await session.get(Staff, 3)
    assert officer is not None
    result = await ingest_message(session, message=citizen("Яма на дороге у фермы", at=clock()), now=clock())
    assert result.incident is not None
    number = result.incident.id or 0
    await reassign_incident(session, incident_id=number, sector_code="agriculture", staff=officer, now=clock())
    await reassign_incident(session, incident_id=number, sector_code="land", staff=officer, now=clock())
    added = await import_examples(
        session, rows=[{"text": "Паи не оформлены", "sector": "land"}], known_sectors={"land"}, now=clock()
    )
    assert added == 1
    texts, sectors = await learned_examples(session)
    # Only the latest correction of an incident counts.
    assert list(zip(texts, sectors, strict=True)) == [("Яма на дороге у фермы", "land"), ("Паи не оформлены", "land")]
    with pytest.raises(InvalidInput, match="Неизвестные блоки"):
        await import_examples(session, rows=[{"text": "x", "sector": "moon"}], known_sectors={"land"}, now=clock())

    plain = train_shipped(tmp_path)
    learned = train_shipped(tmp_path, extra=(texts, sectors))
    assert cached_models(tmp_path) == 2  # a different model for a different lesson
    assert learned.predict("Паи не оформлены").ranked != plain.predict("Паи не оформлены").ranked


def cached_models(folder: Path) -> int:
    return len(list(folder.glob("classifier-*.pickle")))


@pytest.fixture(scope="module")
def shipped() -> SectorClassifier:
    return train_shipped()


@pytest.mark.parametrize(
    ("text", "sector"),
    [
        ("В подъезде не горит свет и не моют полы уже месяц", "zhkh"),
        ("Во дворе сломаны качели на детской площадке", "improvement"),
        ("Огромная яма на проезжей части, пробил колесо", "roads"),
        ("Контейнеры переполнены, мусор не вывозят неделю", "waste"),
        ("Маршрутка ходит раз в час, расписание не соблюдают", "transport"),
        ("Стая бездомных собак кидается на детей у школы", "agriculture"),
    ],
)
def test_the_shipped_model_knows_the_boundary_topics(shipped: SectorClassifier, text: str, sector: str) -> None:
    assert shipped.predict(text).sector == sector


def test_shipped_examples_are_balanced_enough() -> None:
    _, sectors = shipped_examples()
    counts = {s: sectors.count(s) for s in set(sectors)}
    assert len(sectors) > 2000
    assert min(counts.values()) >= 100, counts
