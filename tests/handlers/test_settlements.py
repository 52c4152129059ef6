"""The gazetteer's seed and the recogniser of settlement names in citizens' text."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput, NotFound
from handlers.settlements import (
    Gazetteer,
    Settlement,
    case_forms,
    create_settlement,
    list_settlements,
    load_settlements,
    normalise,
    parse_settlements,
    recognise_settlement,
    set_settlement_active,
    table_gazetteer,
    update_settlement,
)

SEED = load_settlements()
GAZETTEER = Gazetteer(SEED)


def names(text: str, gazetteer: Gazetteer = GAZETTEER) -> list[str]:
    return [s.name for s in gazetteer.find(text)]


def place(name: str, *aliases: str) -> Settlement:
    """A made-up settlement for exercising the rules; the seed itself is checked separately."""
    return Settlement(name=name, kind="деревня", rural_settlement="Тестовое", lat=52.4, lon=35.8, aliases=aliases)


def test_seed_is_data_for_the_district() -> None:
    raw = json.loads(resources.files("storage").joinpath("seed/settlements.json").read_text(encoding="utf-8"))
    assert "Троснянск" in raw["_comment"] and "администрац" in raw["_comment"]
    assert len(SEED) == len(raw["settlements"]) >= 14
    assert len({s.name for s in SEED}) == len(SEED)
    for s in SEED:
        assert 52.2 <= s.lat <= 52.7 and 35.3 <= s.lon <= 36.1, s.name
        assert s.kind in {"село", "деревня", "посёлок"}, s.name
        assert s.rural_settlement.endswith("сельское поселение"), s.name
    by_name = {s.name: s for s in SEED}
    assert by_name["Тросна"].kind == "село"
    assert by_name["Тросна"].rural_settlement == "Троснянское сельское поселение"
    centres = {"Тросна", "Жерновец", "Ломовец", "Воронец", "Малахово-Слободка", "Муравль", "Никольское", "Пенновка"}
    assert centres <= set(by_name)


def test_every_seed_name_is_recognised_and_belongs_to_one_settlement() -> None:
    owner: dict[str, str] = {}
    for s in SEED:
        assert GAZETTEER.find(f"Обращение: {s.name}, нужна помощь") == [s]
        for form in case_forms(s.name):
            assert owner.setdefault(form, s.name) == s.name, form


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # feminine -а
        ("В Тросне третий день нет воды", "Тросна"),
        ("Автобус из Тросны не пришёл", "Тросна"),
        ("Дорога к Тросне разбита", "Тросна"),
        ("за Тросной свалка", "Тросна"),
        ("еду в Тросну", "Тросна"),
        ("д. Пенновка, ул. Садовая", "Пенновка"),
        ("в Пенновке нет света", "Пенновка"),
        # masculine -ец with a fleeting vowel, and the spelling without it
        ("Жерновца жители просят грейдер", "Жерновец"),
        ("в Жерновце упало дерево", "Жерновец"),
        ("между Жерновцом и трассой", "Жерновец"),
        ("по Ломовцу не проехать", "Ломовец"),
        ("в Воронце", "Воронец"),
        ("в Гнильце сгорела школа", "Гнилец"),
        ("в Жерновеце", "Жерновец"),
        # masculine soft -ь
        ("в Муравле нет газа", "Муравль"),
        ("из Муравля", "Муравль"),
        # neuter -о, declined and not
        ("в Сомове прорвало трубу", "Сомово"),
        ("в Сомово прорвало трубу", "Сомово"),
        ("из Сомова звонили", "Сомово"),
        ("за Гранкином", "Гранкино"),
        # adjectival
        ("с. Никольское", "Никольское"),
        ("в Никольском нет воды", "Никольское"),
        ("из Никольского", "Никольское"),
        ("в Чермошном", "Чермошное"),
        # adjective + noun, plural
        ("в Нижней Морозихе", "Нижняя Морозиха"),
        ("Н. Морозиха, дом 5", "Нижняя Морозиха"),
        ("пос. Новые Турьи", "Новые Турьи"),
        ("в Новых Турьях", "Новые Турьи"),
        # hyphenated: both parts declined or only the second; any dash, spaces, line breaks
        ("в Малахово-Слободке", "Малахово-Слободка"),
        ("из Малахово-Слободки", "Малахово-Слободка"),
        ("в Малахово Слободке", "Малахово-Слободка"),
        ("в Малахово – Слободке", "Малахово-Слободка"),
        ("в Малахово\u2011Слободке", "Малахово-Слободка"),
        ("в Малахово\nСлободке", "Малахово-Слободка"),
        ("МАЛАХОВО-СЛОБОДКА", "Малахово-Слободка"),
    ],
)
def test_case_forms_and_spellings(text: str, expected: str) -> None:
    assert names(text) == [expected]


def test_abbreviations_of_the_kind() -> None:
    assert names("с.Никольское") == ["Никольское"]
    assert names("д.Пенновка") == ["Пенновка"]
    assert names("дер. Гранкино") == ["Гранкино"]
    assert names("пос. Новые Турьи") == ["Новые Турьи"]
    assert names("Н.Морозиха") == ["Нижняя Морозиха"]


def test_yo_and_ye_are_the_same_letter() -> None:
    gazetteer = Gazetteer([place("Берёзовка"), place("Селезнёво")])
    assert names("в Березовке", gazetteer) == ["Берёзовка"]
    assert names("в Берёзовке", gazetteer) == ["Берёзовка"]
    assert names("в Селезнево", gazetteer) == ["Селезнёво"]
    assert names("за Селезнёвом", gazetteer) == ["Селезнёво"]
    assert normalise("Ёлки") == "елки"


def test_adjectival_names_of_every_gender() -> None:
    gazetteer = Gazetteer([place("Красная Поляна"), place("Красноармейский"), place("Верхнее"), place("Горки")])
    assert names("в Красной Поляне", gazetteer) == ["Красная Поляна"]
    assert names("на Красную Поляну", gazetteer) == ["Красная Поляна"]
    assert names("в Красноармейском", gazetteer) == ["Красноармейский"]
    assert names("до Красноармейского", gazetteer) == ["Красноармейский"]
    assert names("в Верхнем", gazetteer) == ["Верхнее"]
    assert names("из Горок", gazetteer) == []  # genitive plural without an ending is not guessed
    assert names("в Горках", gazetteer) == ["Горки"]


def test_fleeting_vowels() -> None:
    assert {"жерновца", "жерновцу", "жерновцом", "жерновце"} <= set(case_forms("Жерновец"))
    assert {"гнильца", "гнильце"} <= set(case_forms("Гнилец"))
    assert {"городка", "городке"} <= set(case_forms("Городок"))


def test_no_false_positives_on_ordinary_words() -> None:
    text = (
        "Тросник у реки, трос порвался, на тросе висит провод, тросом тянули. "
        "Жернова старой мельницы, воронка на дороге, ломовой извозчик, наловили сомов. "
        "Никольский — фамилия соседа. Муравей на столе. Гнилой забор."
    )
    assert names(text) == []


def test_the_district_adjective_is_not_the_village() -> None:
    assert names("Администрация Троснянского района, Троснянский район") == []


def test_other_regions_towns_are_not_ours() -> None:
    assert names("Орёл, в Орле, из Орла; Курск, в Курске; Железногорск, Кромы, Фатеж, Поныри") == []


def test_surname_like_forms_need_a_place_word_before_them() -> None:
    assert names("Звонила Сомова Анна Петровна") == []
    assert names("Передайте Сомову, что трубу прорвало") == []
    assert names("Говорили о Сомове") == []
    assert names("Из Сомова звонила Сомова") == ["Сомово"]
    assert names("Жители Гранкина просят автобус") == ["Гранкино"]
    assert names("д. Гранкина") == ["Гранкино"]


def test_several_settlements_in_order_of_first_mention() -> None:
    text = "Из Жерновца в Тросну и обратно в Жерновец, потом в Малахово-Слободку, а из Тросны в Никольское."
    assert names(text) == ["Жерновец", "Тросна", "Малахово-Слободка", "Никольское"]
    assert GAZETTEER.first(text) == next(s for s in SEED if s.name == "Жерновец")


def test_empty_text() -> None:
    assert GAZETTEER.find("") == []
    assert GAZETTEER.find("   \n\t") == []
    assert GAZETTEER.first("") is None
    assert GAZETTEER.first("Просто жалоба без адреса") is None
    assert Gazetteer([]).find("в Тросне") == []


def test_very_long_text_in_reasonable_time() -> None:
    filler = "Жители жалуются на дороги, свет и воду; тросник и трос. 🚧 " * 2000
    text = "В Ломовце " + filler[:100_000] + " и в Пенновке"
    assert len(text) > 100_000
    started = time.perf_counter()
    found = names(text)
    elapsed = time.perf_counter() - started
    assert found == ["Ломовец", "Пенновка"]
    assert elapsed < 2.0, elapsed


def test_html_and_emoji_around_names() -> None:
    assert names("<p>🔥 Пожар в <b>Жерновце</b>!</p>") == ["Жерновец"]
    assert names("&laquo;Тросна&raquo; — 🚌❌") == ["Тросна"]
    assert names("🚧Тросна🚧 #Сомово") == ["Тросна", "Сомово"]
    assert names('<a href="https://vk.com/x">в Муравле</a>') == ["Муравль"]
    assert names("Тро\u00adсна, Ни\u200bкольское") == ["Тросна", "Никольское"]


def test_latin_lookalike_letters_inside_cyrillic_words() -> None:
    assert names("в Tросне нет воды") == ["Тросна"]  # Latin T
    assert names("Moscow, Texas") == []


def test_longer_name_wins_when_names_overlap() -> None:
    gazetteer = Gazetteer([place("Малахово"), place("Малахово-Слободка")])
    assert names("в Малахово-Слободке", gazetteer) == ["Малахово-Слободка"]
    assert names("в Малахово Слободке", gazetteer) == ["Малахово-Слободка"]
    assert names("в Малахово, потом в Малахово-Слободку", gazetteer) == ["Малахово", "Малахово-Слободка"]


def test_names_are_whole_words_only() -> None:
    assert names("Тросна2024 и ТроснаОнлайн и Сомовоград") == []
    assert names("Тросна-онлайн пишет") == ["Тросна"]


def test_parse_settlements_rejects_malformed_entries() -> None:
    good = {"name": "Тросна", "kind": "село", "rural_settlement": "Т", "lat": 52.4, "lon": 35.7, "aliases": ["Х"]}
    assert parse_settlements({"_comment": "x", "settlements": [good]})[0].aliases == ("Х",)
    assert parse_settlements([good])[0].name == "Тросна"
    with pytest.raises(ValueError):
        parse_settlements({"settlements": [{**good, "lat": "север"}]})
    with pytest.raises(ValueError):
        parse_settlements({"settlements": [{k: v for k, v in good.items() if k != "name"}]})
    with pytest.raises(ValueError):
        parse_settlements({"settlements": "Тросна"})


# The gazetteer as a table: seeded by the migration, edited in the admin, recognised from the table.


async def test_the_table_starts_as_the_seed(session: AsyncSession) -> None:
    rows = await list_settlements(session)
    assert sorted(r.name for r in rows) == sorted(s.name for s in SEED)
    assert all(r.active for r in rows)
    assert await recognise_settlement(session, text="В Жерновце нет света") == "Жерновец"


async def test_edits_are_checked(session: AsyncSession) -> None:
    with pytest.raises(InvalidInput, match="Координаты вне района"):
        await create_settlement(session, name="Кукуевка", kind="деревня", lat=55.75, lon=37.62)
    with pytest.raises(InvalidInput, match="Укажите название"):
        await create_settlement(session, name="  ", kind="деревня", lat=52.4, lon=35.8)
    with pytest.raises(InvalidInput, match="Вид населённого пункта"):
        await create_settlement(session, name="Кукуевка", kind="мегаполис", lat=52.4, lon=35.8)
    with pytest.raises(InvalidInput, match="«Тросна»"):
        await create_settlement(session, name="ТРОСНА", kind="село", lat=52.4, lon=35.8)
    with pytest.raises(InvalidInput, match="«Жерновец»"):
        await create_settlement(session, name="Кукуевка", kind="деревня", lat=52.4, lon=35.8, aliases=["жерновец"])
    with pytest.raises(NotFound):
        await set_settlement_active(session, settlement_id=999, active=False)


async def test_edits_change_recognition_and_the_cache_follows_the_table(session: AsyncSession) -> None:
    before = await table_gazetteer(session)
    assert await table_gazetteer(session) is before  # unchanged table: the compiled recogniser is kept
    assert await recognise_settlement(session, text="В Кукуевке нет света") is None

    row = await create_settlement(
        session, name="Кукуевка", kind="деревня", lat=52.41, lon=35.71, aliases=[" Кукуи ", "кукуи"]
    )
    assert row.aliases == ["Кукуи"]
    assert await table_gazetteer(session) is not before
    assert await recognise_settlement(session, text="В Кукуевке нет света") == "Кукуевка"
    assert await recognise_settlement(session, text="дорога на Кукуи") == "Кукуевка"

    assert row.id is not None
    await update_settlement(session, settlement_id=row.id, name="Кукуево", kind="село", lat=52.41, lon=35.71)
    assert await recognise_settlement(session, text="В Кукуевке нет света") is None
    assert await recognise_settlement(session, text="из Кукуева не вывозят мусор") == "Кукуево"

    tros = next(r for r in await list_settlements(session) if r.name == "Тросна")
    assert tros.id is not None
    await set_settlement_active(session, settlement_id=tros.id, active=False)
    assert await recognise_settlement(session, text="В Тросне нет воды") is None
