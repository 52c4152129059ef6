"""History of past incidents from a CSV or XLSX file, labelled with our sectors for the classifier.

Two kinds of file are understood: our own (columns `text` and `sector`, a sector code or its Russian title) and
an export of a ЦУР or «Инцидент менеджмент» («Текст инцидента», «Группа тем», «Тема»), whose topics are turned
into our sectors by a mapping file (columns `group`, `topic`, `sector`).
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput
from storage.models import RoutingExample

MAX_TEXT = 4000  # longer texts are cut for training: the first paragraphs say what the matter is
TEXT_COLUMNS = ("text", "текст инцидента", "текст обращения", "текст", "описание")
SECTOR_COLUMN = "sector"
GROUP_COLUMNS = ("group", "группа тем")
TOPIC_COLUMNS = ("topic", "тема")
# Short names people use for two sectors whose titles in the directory are long.
SECTOR_ALIASES = {"жкх": "zhkh", "тко": "waste"}


@dataclass
class Table:
    columns: list[str]  # the header as written in the file
    rows: list[dict[str, str]]  # normalised column name → value, every column in every row


def normal(value: str) -> str:
    """What two spellings of a name have in common: case, ё/е and spaces do not matter."""
    return " ".join(value.split()).lower().replace("ё", "е")


@dataclass
class History:
    """Examples ready for `import_examples` and the rows that were left out, with the reasons."""

    rows: list[dict[str, str]] = field(default_factory=list)  # text, sector (a code)
    empty: int = 0  # no text
    unlabelled: int = 0  # no sector in the `sector` column
    duplicates: int = 0  # the same text earlier in the file
    imported_before: int = 0  # the text is already an example in the database
    unmapped: Counter[tuple[str, str]] = field(default_factory=Counter)  # (group, topic) not in the mapping


def read_table(path: Path) -> Table:
    """A .csv or .xlsx file (its first sheet): the first non-empty row is the header."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput(f"Файл {path.name}: поддерживаются .csv и .xlsx (файл .xls сохраните в Excel как .xlsx).")
    if not path.is_file():
        raise InvalidInput(f"Файл {path} не найден.")
    try:
        records = _csv_records(path) if suffix == ".csv" else _xlsx_records(path)
    except (OSError, ValueError, csv.Error, zipfile.BadZipFile, InvalidFileException, KeyError) as error:
        raise InvalidInput(f"Не удалось прочитать файл {path.name}: {error}") from error
    records = [r for r in records if any(r)]
    if not records:
        return Table(columns=[], rows=[])
    columns = [normal(c) for c in records[0]]
    rows = [{c: r[i] if i < len(r) else "" for i, c in enumerate(columns) if c} for r in records[1:]]
    return Table(columns=[c for c in records[0] if c], rows=rows)


def _csv_records(path: Path) -> list[list[str]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251")  # what Russian Excel writes for «CSV (разделители — точки с запятой)»
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(";,\t", key=first_line.count)
    return [[cell.strip() for cell in r] for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _xlsx_records(path: Path) -> list[list[str]]:
    with warnings.catch_warnings():
        # Exports from other systems often lack a default style; openpyxl warns and reads them fine.
        warnings.simplefilter("ignore", UserWarning)
        workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [["" if v is None else str(v).strip() for v in r] for r in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _column(table: Table, names: tuple[str, ...]) -> str | None:
    present = {normal(c) for c in table.columns}
    return next((n for n in names if n in present), None)


def _missing_columns(path: Path, table: Table, expected: str) -> InvalidInput:
    found = ", ".join(f"«{c}»" for c in table.columns) or "нет ни одной (файл пуст)"
    return InvalidInput(f"В файле {path.name} нет нужных колонок. Найдены: {found}. Нужны: {expected}.")


def sector_codes(sectors: Mapping[str, str]) -> dict[str, str]:
    """Every accepted way to name a sector (code, title, short name) → its code; `sectors` is code → title."""
    names = {normal(a): c for a, c in SECTOR_ALIASES.items() if c in sectors}
    for code, title in sectors.items():
        names[normal(title)] = code
        names[normal(code)] = code
    return names


def _unknown_sectors(where: str, unknown: set[str], sectors: Mapping[str, str]) -> InvalidInput:
    valid = ", ".join(f"{code} ({title})" for code, title in sectors.items())
    return InvalidInput(f"Неизвестные блоки {where}: {', '.join(sorted(unknown))}. Возможные: {valid}.")


def read_mapping(path: Path, *, sectors: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(group, topic) → sector code, both normalised; an empty topic stands for the whole group.

    Rows with an empty sector are not filled in yet and are passed over; an unknown sector refuses the file.
    """
    table = read_table(path)
    group, topic = _column(table, GROUP_COLUMNS), _column(table, TOPIC_COLUMNS)
    if group is None or _column(table, (SECTOR_COLUMN,)) is None:
        raise _missing_columns(path, table, "group, topic и sector")
    codes = sector_codes(sectors)
    mapping: dict[tuple[str, str], str] = {}
    unknown: set[str] = set()
    for row in table.rows:
        sector = row.get(SECTOR_COLUMN, "")
        key = (normal(row.get(group, "")), normal(row.get(topic, "") if topic else ""))
        if not sector or key == ("", ""):
            continue
        if normal(sector) not in codes:
            unknown.add(sector)
            continue
        mapping[key] = codes[normal(sector)]
    if unknown:
        raise _unknown_sectors(f"в файле соответствия {path.name}", unknown, sectors)
    return mapping


def mapped_sector(mapping: Mapping[tuple[str, str], str], group: str, topic: str) -> str | None:
    """The topic's own row first, then a row for the topic in any group, then the row of its whole group."""
    group, topic = normal(group), normal(topic)
    for key in ((group, topic), ("", topic), (group, "")):
        if key in mapping:
            return mapping[key]
    return None


def read_history(path: Path, *, sectors: Mapping[str, str], mapping: Path | None = None) -> History:
    """Labelled examples from a file of past incidents; `sectors` is code → title of the directory's sectors.

    With `mapping`, the file is an export with «Группа тем» and «Тема»; without it, it has a `sector` column.
    """
    table = read_table(path)
    text_column = _column(table, TEXT_COLUMNS)
    group, topic = _column(table, GROUP_COLUMNS), _column(table, TOPIC_COLUMNS)
    topics = read_mapping(mapping, sectors=sectors) if mapping else None
    if topics is not None and (text_column is None or group is None or topic is None):
        raise _missing_columns(path, table, "«Текст инцидента», «Группа тем» и «Тема»")
    if topics is None and (text_column is None or _column(table, (SECTOR_COLUMN,)) is None):
        hint = " (для выгрузки ЦУР с «Группа тем» и «Тема» нужен ещё файл соответствия тем и блоков)"
        raise _missing_columns(path, table, "text и sector" + (hint if group and topic else ""))
    assert text_column is not None

    codes = sector_codes(sectors)
    history = History()
    seen: set[str] = set()
    unknown: set[str] = set()
    for row in table.rows:
        text = row.get(text_column, "")[:MAX_TEXT].strip()
        if not text:
            history.empty += 1
            continue
        if topics is not None:
            assert group is not None and topic is not None
            sector = mapped_sector(topics, row.get(group, ""), row.get(topic, ""))
            if sector is None:
                history.unmapped[(row.get(group, ""), row.get(topic, ""))] += 1
                continue
        else:
            label = row.get(SECTOR_COLUMN, "")
            if not label:
                history.unlabelled += 1
                continue
            sector = codes.get(normal(label))
            if sector is None:
                unknown.add(label)
                continue
        if normal(text) in seen:
            history.duplicates += 1
            continue
        seen.add(normal(text))
        history.rows.append({"text": text, "sector": sector})
    if unknown:
        raise _unknown_sectors(f"в файле {path.name}", unknown, sectors)
    return history


async def drop_imported_before(session: AsyncSession, history: History) -> None:
    """Leave out texts imported before, so that importing the same or an overlapping export again adds nothing."""
    imported = await session.exec(select(col(RoutingExample.text)).where(RoutingExample.origin == "import"))
    known = {normal(text) for text in imported}
    fresh = [row for row in history.rows if normal(row["text"]) not in known]
    history.imported_before += len(history.rows) - len(fresh)
    history.rows = fresh


def topic_counts(path: Path) -> Counter[tuple[str, str]]:
    """How many incidents each (group, topic) of an export has: the lines of a mapping file to fill in."""
    table = read_table(path)
    group, topic = _column(table, GROUP_COLUMNS), _column(table, TOPIC_COLUMNS)
    if group is None or topic is None:
        raise _missing_columns(path, table, "«Группа тем» и «Тема»")
    return Counter((row.get(group, ""), row.get(topic, "")) for row in table.rows)


def write_mapping_template(
    export: Path, target: Path, *, sectors: Mapping[str, str], mapping: Path | None = None
) -> tuple[int, int]:
    """Write group,topic,count,sector for every topic of `export`, most frequent first; the sector is filled in
    from `mapping` where it knows the topic. Returns (topics, topics with a sector)."""
    counts = topic_counts(export)
    known = read_mapping(mapping, sectors=sectors) if mapping else {}
    lines = []
    for (group, topic), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        lines.append([group, topic, str(count), mapped_sector(known, group, topic) or ""])
    try:
        # UTF-8 with a BOM: Excel opens it with the Cyrillic intact.
        with target.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows([["group", "topic", "count", SECTOR_COLUMN], *lines])
    except OSError as error:
        raise InvalidInput(f"Не удалось записать файл {target}: {error}") from error
    return len(lines), sum(1 for line in lines if line[3])
