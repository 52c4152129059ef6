"""The `mcu` command's offline parts, run in-process on a temporary database."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

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
