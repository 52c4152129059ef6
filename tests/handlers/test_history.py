"""Reading a history of past incidents from CSV and XLSX files, our own or a ЦУР export with a mapping file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.classifier import import_examples
from handlers.errors import InvalidInput
from handlers.history import MAX_TEXT, History, drop_imported_before, read_history, write_mapping_template

DIRECTORY = json.loads(resources.files("storage").joinpath("seed/directory.json").read_text(encoding="utf-8"))
SECTORS = {s["code"]: s["title"] for s in DIRECTORY["sectors"]}


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def pairs(history: History) -> list[tuple[str, str]]:
    return [(r["text"], r["sector"]) for r in history.rows]


def test_csv_with_codes_skips_empty_unlabelled_and_repeated_texts(tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    long_text = "Нет воды. " * 1000
    source.write_text(
        " Text , SECTOR \n"
        "Яма на дороге,roads\n"
        '"Нет света\nтретий день",energy\n'
        ",zhkh\n"
        "Без блока,\n"
        "яма  на дороге,transport\n"
        f"{long_text},zhkh\n",
        "utf-8-sig",
    )
    history = read_history(source, sectors=SECTORS)
    assert pairs(history) == [
        ("Яма на дороге", "roads"),
        ("Нет света\nтретий день", "energy"),
        (long_text[:MAX_TEXT].strip(), "zhkh"),
    ]
    assert (history.empty, history.unlabelled, history.duplicates) == (1, 1, 1)


def test_csv_with_russian_sector_titles(tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_text(
        "text,sector\n"
        "Прорвало трубу,ЖКХ\n"
        "Не вывозят мусор,тко\n"
        "Контейнеры переполнены,Твёрдые коммунальные отходы\n"
        '"Паи не оформлены, помогите",земельные  отношения\n'
        "Ямы,Дороги\n",
        "utf-8",
    )
    history = read_history(source, sectors=SECTORS)
    assert [sector for _, sector in pairs(history)] == ["zhkh", "waste", "waste", "land", "roads"]


def test_cp1251_csv_with_semicolons_from_russian_excel(tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_bytes(
        "Текст обращения;Sector\r\nНет газа, что делать?;Энергетика\r\nШкольный автобус не пришёл;education\r\n".encode(
            "cp1251"
        )
    )
    history = read_history(source, sectors=SECTORS)
    assert pairs(history) == [("Нет газа, что делать?", "energy"), ("Школьный автобус не пришёл", "education")]


def test_cur_export_in_xlsx_is_labelled_by_the_mapping(tmp_path: Path) -> None:
    export = write_xlsx(
        tmp_path / "export.xlsx",
        [
            [],  # exports often start with a blank line: the header is the first row with something in it
            ["Номер", "Текст инцидента", "Группа тем", "Тема"],
            [101, "Прорвало трубу во дворе", "ЖКХ", "Аварии в системе водоснабжения"],
            [102, "Фонарь не горит у школы", "ЖКХ", "Уличное  Освещение"],
            [103, "Яма на трассе", "Дороги", "Ямочный ремонт"],
            [104, "Когда соревнования?", "Физическая культура и спорт", "Спортивные мероприятия"],
            [105, "Где записаться в секцию?", "Физическая культура и спорт", "Спортивные мероприятия"],
            [106, "Нет пособия", "Социальное обслуживание", "Пособия"],
            [107, None, "ЖКХ", "Отопление"],
        ],
    )
    mapping = tmp_path / "mapping.csv"
    mapping.write_text(
        "group,topic,sector\n"
        "жкх,,ЖКХ\n"  # the whole group
        "ЖКХ, уличное освещение ,energy\n"  # one of its topics, to another sector: the topic wins
        "Дороги,Ямочный ремонт,Дороги\n"
        "Социальное обслуживание,Пособия,\n",  # not filled in yet
        "utf-8",
    )
    history = read_history(export, sectors=SECTORS, mapping=mapping)
    assert pairs(history) == [
        ("Прорвало трубу во дворе", "zhkh"),
        ("Фонарь не горит у школы", "energy"),
        ("Яма на трассе", "roads"),
    ]
    assert history.empty == 1
    assert history.unmapped == {
        ("Физическая культура и спорт", "Спортивные мероприятия"): 2,
        ("Социальное обслуживание", "Пособия"): 1,
    }


def test_missing_columns_name_what_was_found_and_what_is_needed(tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_text("Сообщение,Категория\nЯма,Дороги\n", "utf-8")
    with pytest.raises(InvalidInput, match=r"Найдены: «Сообщение», «Категория»\. Нужны: text и sector"):
        read_history(source, sectors=SECTORS)

    export = write_xlsx(tmp_path / "export.xlsx", [["Текст инцидента", "Группа тем", "Тема"], ["Яма", "Дороги", "Ямы"]])
    with pytest.raises(InvalidInput, match="нужен ещё файл соответствия"):
        read_history(export, sectors=SECTORS)

    mapping = tmp_path / "mapping.csv"
    mapping.write_text("группа,блок\nДороги,roads\n", "utf-8")
    with pytest.raises(InvalidInput, match=r"mapping\.csv нет нужных колонок.*Нужны: group, topic и sector"):
        read_history(export, sectors=SECTORS, mapping=mapping)
    mapping.write_text("group,topic,sector\nДороги,,roads\n", "utf-8")
    with pytest.raises(
        InvalidInput, match=r"Найдены: «text», «sector»\. Нужны: «Текст инцидента», «Группа тем» и «Тема»"
    ):
        read_history(write_xlsx(tmp_path / "own.xlsx", [["text", "sector"]]), sectors=SECTORS, mapping=mapping)


def test_unknown_sectors_are_refused_with_the_valid_ones_listed(tmp_path: Path) -> None:
    source = tmp_path / "history.csv"
    source.write_text("text,sector\nЯма,roads\nчто-то,луна\nещё,марс\n", "utf-8")
    with pytest.raises(InvalidInput, match=r"Неизвестные блоки в файле history\.csv: луна, марс\. Возможные: zhkh \("):
        read_history(source, sectors=SECTORS)

    export = write_xlsx(tmp_path / "export.xlsx", [["Текст инцидента", "Группа тем", "Тема"], ["Яма", "Дороги", "Ямы"]])
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("group,topic,sector\nДороги,,дорожное хозяйство\n", "utf-8")
    with pytest.raises(InvalidInput, match=r"Неизвестные блоки в файле соответствия mapping\.csv: дорожное хозяйство"):
        read_history(export, sectors=SECTORS, mapping=mapping)


def test_unreadable_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="не найден"):
        read_history(tmp_path / "nowhere.csv", sectors=SECTORS)
    with pytest.raises(InvalidInput, match=r"поддерживаются \.csv и \.xlsx"):
        read_history(tmp_path / "old.xls", sectors=SECTORS)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    with pytest.raises(InvalidInput, match=r"Не удалось прочитать файл broken\.xlsx"):
        read_history(broken, sectors=SECTORS)


def test_mapping_template_lists_topics_most_frequent_first(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "Текст инцидента;Группа тем;Тема\nа;Дороги;Ямы\nб;ЖКХ;Отопление\nв;Дороги;Ямы\nг;Спорт;Секции\n", "utf-8"
    )
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("group,topic,sector\nДороги,,Дороги\n", "utf-8")
    template = tmp_path / "template.csv"
    assert write_mapping_template(export, template, sectors=SECTORS, mapping=mapping) == (3, 1)
    assert template.read_text("utf-8-sig").splitlines() == [
        "group,topic,count,sector",
        "Дороги,Ямы,2,roads",
        "ЖКХ,Отопление,1,",
        "Спорт,Секции,1,",
    ]


async def test_texts_imported_before_are_left_out(session: AsyncSession) -> None:
    now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    await import_examples(session, rows=[{"text": "Нет газа", "sector": "energy"}], known_sectors={"energy"}, now=now)
    history = History(rows=[{"text": "нет  газа", "sector": "energy"}, {"text": "Яма", "sector": "roads"}])
    await drop_imported_before(session, history)
    assert pairs(history) == [("Яма", "roads")]
    assert history.imported_before == 1
