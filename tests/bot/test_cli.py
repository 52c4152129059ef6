"""The `mcu` command's offline parts, run in-process on a temporary database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.cli import main


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MCU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def test_classifier_predict_writes_a_row_per_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text('id,text\n1,"Нет света третий день"\n2,Яма на дороге\n3,\n4,Когда будет автобус?\n', "utf-8")
    main(["classifier", "predict", str(source), str(target)])
    with target.open(encoding="utf-8") as written:
        rows = list(csv.DictReader(written))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["sector"] for r in rows] == ["energy", "roads", "other", "transport"]
    assert rows[2]["confidence"] == "0.000" and float(rows[1]["confidence"]) > 0.5
    assert "распределено" in capsys.readouterr().out


def test_staff_list_and_users_create(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    main(["staff", "list"])
    listing = capsys.readouterr().out
    assert "Суркова Ольга Ивановна" in listing and "не подключён" in listing
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    main(["users", "create", "head", "--role", "mcu_head"])
    assert "пользователь head (mcu_head) создан" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["users", "create", "head", "--role", "mcu_head"])


def test_classifier_train_imports_history_and_refuses_unknown_sectors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "history.csv"
    history.write_text('text,sector\n"Паи не оформлены, помогите",land\nНет газа,energy\n', "utf-8")
    main(["classifier", "train", str(history)])
    assert "добавлено примеров: 2" in capsys.readouterr().out
    assert len(list((tmp_path / "cache").glob("classifier-*.pickle"))) == 1
    history.write_text("text,sector\nчто-то,луна\n", "utf-8")
    with pytest.raises(SystemExit):
        main(["classifier", "train", str(history)])
    assert "Неизвестные блоки" in capsys.readouterr().err


def write_cur_export(path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (
        ["Номер", "Текст инцидента", "Группа тем", "Тема"],
        [1, "Прорвало трубу во дворе", "ЖКХ", "Аварии"],
        [2, "Фонарь не горит у школы", "ЖКХ", "Уличное освещение"],
        [3, "Фонарь не горит у школы", "ЖКХ", "Уличное освещение"],
        [4, "", "ЖКХ", "Аварии"],
        [5, "Когда соревнования?", "Спорт", "Мероприятия"],
        [6, "Где записаться в секцию?", "Спорт", "Секции"],
        [7, "Во сколько начало?", "Спорт", "Мероприятия"],
    ):
        sheet.append(row)
    workbook.save(path)
    return path


def test_classifier_train_imports_a_cur_export_through_a_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_cur_export(tmp_path / "export.xlsx")
    mapping = tmp_path / "mapping.csv"
    mapping.write_text("group,topic,sector\nЖКХ,,ЖКХ\nЖКХ,Уличное освещение,energy\n", "utf-8")
    with pytest.raises(SystemExit):
        main(["classifier", "train", str(export)])
    assert "нужен ещё файл соответствия" in capsys.readouterr().err

    main(["classifier", "train", str(export), "--mapping", str(mapping)])
    out = capsys.readouterr().out
    assert "добавлено примеров: 2;" in out
    assert "пропущено строк: без текста — 1, повторы в файле — 1, тема не сопоставлена с блоком — 3" in out
    assert out.index("2  Спорт / Мероприятия") < out.index("1  Спорт / Секции")
    # The same export again adds nothing: its texts are already examples.
    main(["classifier", "train", str(export), "--mapping", str(mapping)])
    out = capsys.readouterr().out
    assert "добавлено примеров: 0;" in out and "импортированы раньше — 2" in out


def test_classifier_mapping_writes_a_template_to_fill_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = write_cur_export(tmp_path / "export.xlsx")
    template = tmp_path / "mapping.csv"
    main(["classifier", "mapping", str(export), str(template)])
    assert "тем в выгрузке: 4, из них с блоком: 0" in capsys.readouterr().out
    with template.open(encoding="utf-8-sig") as written:
        rows = list(csv.DictReader(written))
    assert [(r["group"], r["topic"], r["count"], r["sector"]) for r in rows] == [
        ("ЖКХ", "Аварии", "2", ""),
        ("ЖКХ", "Уличное освещение", "2", ""),
        ("Спорт", "Мероприятия", "2", ""),
        ("Спорт", "Секции", "1", ""),
    ]
    # A district fills in what it knows and writes the template again over it: the filled sectors stay.
    template.write_text("group,topic,count,sector\nЖКХ,,,zhkh\nСпорт,Секции,1,Прочее\n", "utf-8")
    main(["classifier", "mapping", str(export), str(template), "--mapping", str(template)])
    assert "тем в выгрузке: 4, из них с блоком: 3" in capsys.readouterr().out
    assert [line.split(",")[-1] for line in template.read_text("utf-8-sig").splitlines()] == [
        "sector", "zhkh", "zhkh", "", "other",
    ]  # fmt: skip


def test_calendar_overrides(capsys: pytest.CaptureFixture[str]) -> None:
    main(["calendar", "set", "2026-12-30", "09:00-17:00", "--note", "предпраздничный"])
    main(["calendar", "set", "2026-11-27", "off", "--note", "решение главы района"])
    capsys.readouterr()
    main(["calendar", "list"])
    listing = capsys.readouterr().out.splitlines()
    assert listing == ["27.11.2026  выходной  решение главы района", "30.12.2026  09:00–17:00  предпраздничный"]
    main(["calendar", "remove", "2026-11-27"])
    with pytest.raises(SystemExit, match="ГГГГ-ММ-ДД"):
        main(["calendar", "set", "30.12.2026", "off"])
    capsys.readouterr()
    main(["calendar", "list"])
    assert "27.11.2026" not in capsys.readouterr().out
