"""Splitting and trimming texts to Telegram's limits, and card keyboards per status."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.telegram.render import card_keyboard, quote, render_card
from bot.textsplit import clip, split_message, utf16_len
from handlers.incidents import ingest_message, view_incident
from storage.models import Sector
from tests.conftest import Clock
from tests.factories import citizen


def test_split_keeps_every_word_and_respects_the_limit() -> None:
    text = "\n\n".join(f"Абзац номер {i}. " + "слово " * 300 for i in range(10))
    parts = split_message(text)
    assert len(parts) > 1 and all(utf16_len(p) <= 4096 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_split_counts_emoji_as_two_units() -> None:
    text = "🚧" * 3000  # 6000 UTF-16 units, no spaces to split at
    parts = split_message(text)
    assert all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text


def test_short_and_empty_texts() -> None:
    assert split_message("коротко") == ["коротко"]
    assert split_message("") == [""]
    assert clip("коротко", 100) == ("коротко", False)


def test_quote_escapes_and_marks_trimming() -> None:
    assert quote("<i>&</i>", 100) == "<blockquote>&lt;i&gt;&amp;&lt;/i&gt;</blockquote>"
    assert "без текста" in quote("   ", 100)
    long = quote("слово " * 1000, 50, link="https://t.me/x/1?a=1&b=2")
    assert "текст сокращён" in long and 'href="https://t.me/x/1?a=1&amp;b=2"' in long


def test_keyboard_follows_status() -> None:
    def titles(status: str) -> list[str]:
        return [b.text for row in card_keyboard(1, status).inline_keyboard for b in row]

    assert titles("assigned") == ["Принять", "Ответить", "Другой блок", "Не инцидент", "Закрыть", "Ещё…"]
    assert titles("in_progress") == ["Ответить", "Другой блок", "Не инцидент", "Закрыть", "Ещё…"]
    assert titles("waiting") == ["▶️ Продолжить работу", "Ответить", "Закрыть"]
    assert titles("answered") == ["Ответить", "Закрыть"]
    assert titles("closed") == titles("rejected") == ["Вернуть в работу"]


def test_triage_card_offers_the_guesses() -> None:
    guesses = [(Sector(code="roads", title="Дороги"), 0.18), (Sector(code="energy", title="Энергетика"), 0.12)]
    keyboard = card_keyboard(7, "new", suggested=guesses)
    titles = [b.text for row in keyboard.inline_keyboard for b in row]
    assert titles == ["→ Дороги (18%)", "→ Энергетика (12%)", "Другой блок", "Не инцидент", "Закрыть"]
    assert keyboard.inline_keyboard[0][0].callback_data == "s:7:roads"


def test_triage_card_offers_not_an_incident_first_when_the_model_is_sure() -> None:
    guesses = [(Sector(code="roads", title="Дороги"), 0.05)]
    keyboard = card_keyboard(7, "new", suggested=guesses, not_incident_p=0.83)
    titles = [b.text for row in keyboard.inline_keyboard for b in row]
    assert titles[:2] == ["→ Не инцидент (83%)", "→ Дороги (5%)"]
    assert keyboard.inline_keyboard[0][0].callback_data == "i:reject:7"


async def test_card_says_why_it_is_not_an_incident_and_counts_a_problems_reports(
    session: AsyncSession, clock: Clock
) -> None:
    thanks = await ingest_message(session, message=citizen("Спасибо!", at=clock(), user=1), now=clock())
    assert thanks.incident is not None and thanks.incident.id is not None
    text, keyboard = render_card(await view_incident(session, thanks.incident.id), now=clock())
    assert "Статус: не инцидент" in text and "Причина: благодарность" in text
    assert [b.text for row in keyboard.inline_keyboard for b in row] == ["Вернуть в работу"]

    first = await ingest_message(session, message=citizen("Разбита дорога в Жерновце", at=clock(), user=2), now=clock())
    await ingest_message(session, message=citizen("Жерновец: дорога разбита", at=clock(), user=3), now=clock())
    assert first.incident is not None and first.incident.id is not None
    text, _ = render_card(await view_incident(session, first.incident.id), now=clock())
    assert "Проблема: обращений 2" in text
