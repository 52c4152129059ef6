"""The district's gazetteer and a recogniser of its settlements' names, in any case form, in citizens' Russian text."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import product
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from handlers.errors import InvalidInput, NotFound
from storage.models import Setting
from storage.models import Settlement as SettlementRow

SEED_PATH = "seed/settlements.json"

# A form shorter than this is too likely to be an ordinary word: it counts only after a preposition or «д.», «с.».
MIN_FREE_LENGTH = 4

# How much a name form needs from the word before it.
FREE = 0  # nothing
AFTER_CONTEXT = 1  # a preposition of place or a settlement word (Сомова, Сомову: also surnames)
NOT_AFTER_ABOUT = 2  # anything but «о», «об», «при» (о Сомове: about Mr Somov)

CONTEXT_WORDS = frozenset(
    {
        "в", "во", "из", "изо", "до", "от", "ото", "у", "к", "ко", "по", "под", "подо", "за", "над", "перед",
        "около", "возле", "близ", "вблизи", "мимо", "через", "между", "напротив", "вдоль", "после", "с", "со",
        "д", "дер", "деревня", "деревни", "деревне", "деревню", "деревней", "деревнях",
        "село", "села", "селе", "селу", "селом", "сел", "п", "пос", "поселок", "поселка", "поселке",
        "поселку", "поселком", "нп", "житель", "жителя", "жители", "жителей", "жителям", "жителями",
        "жительница", "жительницы", "окраине", "окраина", "центре", "районе", "сторону", "направлении",
    }
)  # fmt: skip
ABOUT_WORDS = frozenset({"о", "об", "обо", "при"})

_VOWELS = frozenset("аеиоуыэюяё")
_VELAR_OR_HUSHING = frozenset("гкхжшщч")
_HUSHING_OR_TS = frozenset("жшщчц")
_ADJECTIVE_ENDINGS = ("ая", "яя", "ое", "ее", "ый", "ий", "ой", "ые", "ие")
_SURNAME_LIKE = re.compile(r"(?:ов|ев|ин|ын)о$")  # Сомово, Гранкино: oblique forms are also surnames

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_FOLD = str.maketrans({"ё": "е", **dict.fromkeys(_DASHES, "-"), **dict.fromkeys(_INVISIBLE)})
# Latin letters that look like Cyrillic ones (after lower-casing), fixed only inside words that also have Cyrillic.
_LOOKALIKES = str.maketrans("aceopxykmthb", "асеорхукмтнв")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(r"[а-я]")
_LETTERS = re.compile(r"[^\W\d_]+")
_SEPARATOR = re.compile(r"\s*-\s*|\s+")
_SEPARATOR_RE = r"(?:\s*-\s*|\s+)"
_PREVIOUS_WORD = re.compile(r"(\w+)\W{0,4}\Z")

Paradigm = list[set[str]]  # forms by case: nominative, genitive, dative, accusative, instrumental, prepositional


@dataclass(frozen=True)
class Settlement:
    name: str
    kind: str
    rural_settlement: str
    lat: float
    lon: float
    aliases: tuple[str, ...] = ()


def load_settlements() -> list[Settlement]:
    """The seed gazetteer shipped in the storage package."""
    text = resources.files("storage").joinpath(SEED_PATH).read_text(encoding="utf-8")
    return parse_settlements(json.loads(text))


def parse_settlements(data: Any) -> list[Settlement]:
    """Settlements from the seed's JSON: an object with "settlements" (keys starting with "_" are notes) or a list."""
    items = data.get("settlements") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError("the gazetteer needs a list of settlements")
    settlements = []
    for number, item in enumerate(items, start=1):
        try:
            aliases = item.get("aliases") or []
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
                raise ValueError("aliases must be a list of non-empty strings")
            settlement = Settlement(
                name=str(item["name"]).strip(),
                kind=str(item["kind"]).strip(),
                rural_settlement=str(item["rural_settlement"]).strip(),
                lat=float(item["lat"]),
                lon=float(item["lon"]),
                aliases=tuple(a.strip() for a in aliases),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"settlement #{number} is malformed: {exc!r}") from exc
        if not settlement.name:
            raise ValueError(f"settlement #{number} has no name")
        settlements.append(settlement)
    return settlements


def normalise(text: str) -> str:
    """Lower case, «ё» as «е», one kind of dash, no soft hyphens or zero-width characters, HTML entities decoded."""
    folded = html.unescape(text).lower().translate(_FOLD)
    if _LATIN.search(folded):
        folded = _LETTERS.sub(_fix_lookalikes, folded)
    return folded


def _fix_lookalikes(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(_LOOKALIKES) if _CYRILLIC.search(word) else word


def _canonical(text: str) -> str:
    """One space between a name's parts whatever joined them (hyphens, spaces, line breaks); none after a dot."""
    return _SEPARATOR.sub(" ", text.strip()).replace(". ", ".")


def _cases(*forms: str | tuple[str, ...]) -> Paradigm:
    return [{f} if isinstance(f, str) else set(f) for f in forms]


def _indeclinable(word: str) -> Paradigm:
    return [{word} for _ in range(6)]


def _is_adjective(word: str) -> bool:
    return len(word) >= 5 and word.endswith(_ADJECTIVE_ENDINGS)


def _adjective(word: str) -> Paradigm:
    stem, ending = word[:-2], word[-2:]
    hard_i = "и" if stem[-1] in _VELAR_OR_HUSHING else "ы"
    if ending == "ая":
        soft = ("ей", "ею") if stem[-1] in _HUSHING_OR_TS else ()
        feminine = (stem + "ой", *(stem + e for e in soft))
        return _cases(word, feminine, feminine, stem + "ую", (*feminine, stem + "ою"), feminine)
    if ending == "яя":
        return _cases(word, stem + "ей", stem + "ей", stem + "юю", (stem + "ей", stem + "ею"), stem + "ей")
    if ending == "ое" or ending in ("ый", "ой"):
        return _cases(word, stem + "ого", stem + "ому", word, stem + hard_i + "м", stem + "ом")
    if ending == "ее":
        return _cases(word, stem + "его", stem + "ему", word, stem + "им", stem + "ем")
    if ending == "ий":
        if stem[-1] in "гкх":
            return _cases(word, stem + "ого", stem + "ому", word, stem + "им", stem + "ом")
        if stem[-1] in "жшщч":
            return _cases(
                word,
                (stem + "его", stem + "ого"),
                (stem + "ему", stem + "ому"),
                word,
                stem + "им",
                (stem + "ем", stem + "ом"),
            )
        return _cases(word, stem + "его", stem + "ему", word, stem + "им", stem + "ем")
    if ending == "ые":
        return _cases(word, stem + "ых", stem + "ым", word, stem + "ыми", stem + "ых")
    return _cases(word, stem + "их", stem + "им", word, stem + "ими", stem + "их")  # -ие


def _noun(word: str) -> Paradigm:
    """Case forms of a toponym noun, by its ending; both the textbook and the common spoken variants."""
    if len(word) < 3 or not word[-1].isalpha():
        return _indeclinable(word)  # abbreviations («н.»), numbers, very short words
    last, stem = word[-1], word[:-1]
    if word.endswith("ия"):
        return _cases(word, stem + "и", stem + "и", stem + "ю", (stem + "ей", stem + "ею"), stem + "и")
    if last == "а":  # Тросна, Пенновка, Слободка, Морозиха
        genitive = stem + ("и" if stem[-1] in _VELAR_OR_HUSHING else "ы")
        soft = (stem + "ей", stem + "ею") if stem[-1] in _HUSHING_OR_TS else ()
        return _cases(word, genitive, stem + "е", stem + "у", (stem + "ой", stem + "ою", *soft), stem + "е")
    if last == "я":
        return _cases(word, stem + "и", stem + "е", stem + "ю", (stem + "ей", stem + "ею"), stem + "е")
    if word.endswith("ие"):
        return _cases(word, stem + "я", stem + "ю", word, stem + "ем", stem + "и")
    if last == "е":  # Заречье, Поле
        return _cases(word, stem + "я", stem + "ю", word, stem + "ем", word)
    if last == "о":  # Сомово, Гранкино, Малахово; the undeclined «в Сомово» is the nominative itself
        return _cases(word, stem + "а", stem + "у", word, stem + "ом", stem + "е")
    if word.endswith("ьи"):  # Турьи
        root = word[:-2]
        return _cases(word, (root + "ьев", root + "ей"), root + "ьям", word, root + "ьями", root + "ьях")
    if last in "иы":  # plural names: Кромы, Лужки
        if last == "и" and stem[-1] not in _VELAR_OR_HUSHING:
            return _cases(word, stem + "ей", stem + "ям", word, stem + "ями", stem + "ях")
        return _cases(word, stem + "ов", stem + "ам", word, stem + "ами", stem + "ах")
    if last in ("ь", "й"):  # Муравль
        return _cases(word, stem + "я", stem + "ю", word, stem + "ем", stem + "е")
    if last in _VOWELS:
        return _indeclinable(word)
    stems = [word]
    if word.endswith(("ец", "ок")) and len(word) >= 5:  # fleeting vowel: Жерновец → Жерновца, Гнилец → Гнильца
        before = word[-3]
        glide = "й" if before in _VOWELS else "ь" if before == "л" else ""
        stems.insert(0, word[:-2] + glide + word[-1])
    instrumental: list[str] = []
    for s in stems:
        instrumental.append(s + "ом")
        if s[-1] in _HUSHING_OR_TS:
            instrumental.append(s + "ем")
    return _cases(
        word,
        tuple(s + "а" for s in stems),
        tuple(s + "у" for s in stems),
        word,
        tuple(instrumental),
        tuple(s + "е" for s in stems),
    )


def case_forms(name: str) -> dict[str, int]:
    """Every case form of a name (normalised, parts joined by one space), with what it needs from the word before."""
    key = _canonical(normalise(name))
    words = key.split(" ")
    if len(words) == 1:
        paradigms = [_adjective(key) if _is_adjective(key) else _noun(key)]
    else:
        paradigms = [_adjective(w) if _is_adjective(w) else _noun(w) for w in words[:-1]] + [_noun(words[-1])]
    combined: list[set[str]] = [
        {" ".join(parts) for parts in product(*(p[case] for p in paradigms))} for case in range(6)
    ]
    if len(words) > 1 and not _is_adjective(words[0]):  # «в Малахово-Слободке»: only the last part declined
        for case in range(6):
            combined[case] |= {" ".join((words[0], *parts)) for parts in product(*(p[case] for p in paradigms[1:]))}
    surname_like = len(words) == 1 and bool(_SURNAME_LIKE.search(key))
    forms: dict[str, int] = {}
    for case, case_set in enumerate(combined):
        for form in case_set:
            need = FREE
            if form != key and surname_like:
                need = AFTER_CONTEXT if case in (1, 2) else NOT_AFTER_ABOUT if case == 5 else FREE
            if sum(ch.isalpha() for ch in form) < MIN_FREE_LENGTH:
                need = AFTER_CONTEXT
            forms[form] = min(forms.get(form, need), need)  # a form free in another case stays free
    return forms


def _trie_pattern(keys: Iterable[str]) -> str:
    """One regular expression for all keys, factored by common prefixes, preferring the longest key."""
    trie: dict[str, Any] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def char(ch: str) -> str:
        if ch == " ":
            return _SEPARATOR_RE
        if ch == ".":
            return r"\.\s*"
        return re.escape(ch)

    def emit(node: dict[str, Any]) -> str:
        ends_here = "" in node
        branches = [char(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        if len(branches) == 1 and not ends_here:
            return branches[0]
        group = "(?:" + "|".join(branches) + ")"
        return group + "?" if ends_here else group

    return emit(trie)


class Gazetteer:
    """Finds the settlements a text is about; names are matched as whole words in any case form and spelling."""

    def __init__(self, settlements: Iterable[Settlement]) -> None:
        self._settlements: tuple[Settlement, ...] = tuple(settlements)
        best: dict[str, tuple[int, int, int]] = {}  # form -> (need, rank, index); the smallest wins
        for index, settlement in enumerate(self._settlements):
            names = [settlement.name, *settlement.aliases]
            for rank, name in enumerate(names):
                base = _canonical(normalise(name))
                for form, need in case_forms(name).items():
                    candidate = (need, 0 if form == base and rank == 0 else 1 if form == base else 2, index)
                    if form not in best or candidate < best[form]:
                        best[form] = candidate
        self._forms: dict[str, tuple[int, int]] = {form: (index, need) for form, (need, _, index) in best.items()}
        self._pattern: re.Pattern[str] | None = None
        if self._forms:
            self._pattern = re.compile(r"(?<!\w)" + _trie_pattern(self._forms) + r"(?!\w)")

    @property
    def settlements(self) -> tuple[Settlement, ...]:
        return self._settlements

    def find(self, text: str) -> list[Settlement]:
        """The settlements named in the text, in the order of their first mention, each once."""
        seen: set[int] = set()
        found: list[Settlement] = []
        for index in self._mentions(text):
            if index not in seen:
                seen.add(index)
                found.append(self._settlements[index])
        return found

    def first(self, text: str) -> Settlement | None:
        """The first settlement named in the text, if any."""
        for index in self._mentions(text):
            return self._settlements[index]
        return None

    def _mentions(self, text: str) -> Iterator[int]:
        if self._pattern is None or not text:
            return
        folded = normalise(text)
        for match in self._pattern.finditer(folded):
            entry = self._forms.get(_canonical(match.group(0)))
            if entry is None:
                continue
            index, need = entry
            if need != FREE and not _context_allows(folded, match.start(), need):
                continue
            yield index


def _context_allows(text: str, start: int, need: int) -> bool:
    previous = _PREVIOUS_WORD.search(text, max(0, start - 40), start)
    word = previous.group(1) if previous else ""
    if need == AFTER_CONTEXT:
        return word in CONTEXT_WORDS
    return word not in ABOUT_WORDS


@lru_cache(maxsize=1)
def district_gazetteer() -> Gazetteer:
    """The seeded gazetteer, built once per process (compiling every case form takes a moment)."""
    return Gazetteer(load_settlements())


def detect_settlement(text: str) -> str | None:
    """The first settlement of the shipped seed named in the text (no database: the table's edits are not seen;
    intake uses `recognise_settlement`)."""
    found = district_gazetteer().first(text)
    return found.name if found else None


# The gazetteer is the `settlement` table; every edit writes a new random stamp here, so each process rebuilds its
# cached recogniser on the next message (one primary-key read per message) and two databases never share a stamp.
VERSION_KEY = "settlements_version"
KINDS = ("село", "деревня", "посёлок", "хутор")
# A sane box around the district (Орловская область, Троснянский район with a margin for rough coordinates).
LAT_RANGE = (52.0, 53.0)
LON_RANGE = (35.0, 36.5)

_cached: tuple[str, Gazetteer] | None = None


def _entry(row: SettlementRow) -> Settlement:
    return Settlement(
        name=row.name,
        kind=row.kind,
        rural_settlement=row.rural_settlement,
        lat=row.lat,
        lon=row.lon,
        aliases=tuple(row.aliases),
    )


async def table_gazetteer(session: AsyncSession) -> Gazetteer:
    """The recogniser of the active settlements of the table, rebuilt only after the table was edited."""
    global _cached
    stamp = await session.get(Setting, VERSION_KEY)
    version = stamp.value if stamp is not None else ""
    if _cached is None or _cached[0] != version:
        rows = await session.exec(
            select(SettlementRow).where(col(SettlementRow.active).is_(True)).order_by(col(SettlementRow.id))
        )
        _cached = (version, Gazetteer(_entry(row) for row in rows))
    return _cached[1]


async def recognise_settlement(session: AsyncSession, *, text: str) -> str | None:
    """The first active settlement of the gazetteer named in the text, for the incident and the heat map."""
    found = (await table_gazetteer(session)).first(text)
    return found.name if found else None


async def list_settlements(session: AsyncSession) -> list[SettlementRow]:
    return list(await session.exec(select(SettlementRow).order_by(col(SettlementRow.name))))


async def _bump(session: AsyncSession) -> None:
    stamp = await session.get(Setting, VERSION_KEY) or Setting(key=VERSION_KEY, value="")
    stamp.value = uuid.uuid4().hex
    session.add(stamp)


def _clean_aliases(aliases: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for alias in aliases:
        alias = " ".join(alias.split())
        if alias:
            seen.setdefault(_canonical(normalise(alias)), alias)
    return list(seen.values())


async def _check(
    session: AsyncSession,
    *,
    settlement_id: int | None,
    name: str,
    kind: str,
    lat: float,
    lon: float,
    aliases: list[str],
) -> None:
    if not name:
        raise InvalidInput("Укажите название населённого пункта.")
    if kind not in KINDS:
        raise InvalidInput(f"Вид населённого пункта — один из: {', '.join(KINDS)}.")
    if not (LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]):
        raise InvalidInput(
            f"Координаты вне района: широта от {LAT_RANGE[0]:g} до {LAT_RANGE[1]:g}, "
            f"долгота от {LON_RANGE[0]:g} до {LON_RANGE[1]:g}."
        )
    mine = {_canonical(normalise(n)) for n in (name, *aliases)}
    for other in await session.exec(select(SettlementRow).where(SettlementRow.id != settlement_id)):
        taken = {_canonical(normalise(n)) for n in (other.name, *other.aliases)}
        if mine & taken:
            raise InvalidInput(f"Название или другое написание уже есть у пункта «{other.name}».")


async def create_settlement(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    rural_settlement: str = "",
    lat: float,
    lon: float,
    aliases: Iterable[str] = (),
    active: bool = True,
) -> SettlementRow:
    """Add a settlement to the gazetteer; new incidents recognise it at once."""
    name, clean = " ".join(name.split()), _clean_aliases(aliases)
    await _check(session, settlement_id=None, name=name, kind=kind, lat=lat, lon=lon, aliases=clean)
    row = SettlementRow(
        name=name, kind=kind, rural_settlement=rural_settlement.strip(), lat=lat, lon=lon, aliases=clean, active=active
    )
    session.add(row)
    await _bump(session)
    await session.commit()
    return row


async def update_settlement(
    session: AsyncSession,
    *,
    settlement_id: int,
    name: str,
    kind: str,
    rural_settlement: str = "",
    lat: float,
    lon: float,
    aliases: Iterable[str] = (),
    active: bool = True,
) -> SettlementRow:
    """Change a settlement; incidents already registered keep the name they were given."""
    row = await session.get(SettlementRow, settlement_id)
    if row is None:
        raise NotFound(f"Населённый пункт с номером {settlement_id} не найден.")
    name, clean = " ".join(name.split()), _clean_aliases(aliases)
    await _check(session, settlement_id=settlement_id, name=name, kind=kind, lat=lat, lon=lon, aliases=clean)
    row.name, row.kind, row.rural_settlement = name, kind, rural_settlement.strip()
    row.lat, row.lon, row.aliases, row.active = lat, lon, clean, active
    session.add(row)
    await _bump(session)
    await session.commit()
    return row


async def set_settlement_active(session: AsyncSession, *, settlement_id: int, active: bool) -> SettlementRow:
    """Stop (or start again) recognising a settlement without losing its record."""
    row = await session.get(SettlementRow, settlement_id)
    if row is None:
        raise NotFound(f"Населённый пункт с номером {settlement_id} не найден.")
    row.active = active
    session.add(row)
    await _bump(session)
    await session.commit()
    return row
