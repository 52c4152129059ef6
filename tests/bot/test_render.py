"""Splitting and trimming texts to Telegram's limits, and card keyboards per status."""

from __future__ import annotations

from bot.telegram.render import card_keyboard, quote
from bot.textsplit import clip, split_message, utf16_len
from storage.models import Sector


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

    assert titles("assigned") == ["Принять", "Ответить", "Другой блок", "Не инцидент", "Закрыть"]
    assert titles("in_progress") == ["Ответить", "Другой блок", "Не инцидент", "Закрыть"]
    assert titles("answered") == ["Ответить", "Закрыть"]
    assert titles("closed") == [] and titles("rejected") == []


def test_triage_card_offers_the_guesses() -> None:
    guesses = [(Sector(code="roads", title="Дороги"), 0.18), (Sector(code="energy", title="Энергетика"), 0.12)]
    keyboard = card_keyboard(7, "new", suggested=guesses)
    titles = [b.text for row in keyboard.inline_keyboard for b in row]
    assert titles == ["→ Дороги (18%)", "→ Энергетика (12%)", "Другой блок", "Не инцидент", "Закрыть"]
    assert keyboard.inline_keyboard[0][0].callback_data == "s:7:roads"
