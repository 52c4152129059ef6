"""Cutting long texts to a platform's message limit without losing a word."""

from __future__ import annotations

LIMIT = 4096  # Telegram's and VK's limit for one message; counted in UTF-16 code units, which is never less


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, budget: int) -> tuple[str, bool]:
    """Cut the text to `budget` UTF-16 units, on a word boundary when one is near."""
    if utf16_len(text) <= budget:
        return text, False
    cut = text[:budget]
    while utf16_len(cut) > budget:
        cut = cut[:-1]
    space = cut.rfind(" ", max(0, len(cut) - 200))
    return (cut[:space] if space > 0 else cut).rstrip(), True


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Split a long plain text into messages Telegram accepts, at paragraph, line or word ends."""
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head, _ = clip(rest, limit)
        for sep in ("\n\n", "\n", " "):
            at = head.rfind(sep)
            if at > limit // 2:
                head = head[:at]
                break
        parts.append(head.rstrip())
        rest = rest[len(head) :].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts
