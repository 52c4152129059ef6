"""What is plainly not an incident is set aside with its reason; anything that may be a request is not."""

from __future__ import annotations

import pytest

from handlers import noise
from handlers.noise import not_incident_reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Спасибо!", noise.THANKS),
        ("спасибо большое за оперативность 👍", noise.THANKS),
        ("Благодарю вас!!!", noise.THANKS),
        ("Здравствуйте", noise.GREETING),
        ("Добрый вечер всем", noise.GREETING),
        ("👍👍🔥", noise.EMOJI),
        ("?!", noise.EMOJI),
        ("", noise.EMPTY),
        ("ок", noise.REACTION),
        ("бля", noise.PROFANITY),
        ("сука бля", noise.PROFANITY),
        ("Заработок от 5000 в день, пиши в лс", noise.SPAM),
        ("Продам дрова недорого 8-900-123-45-67", noise.SPAM),
        ("Подписывайтесь на наш канал t.me/somechannel", noise.SPAM),
    ],
)
def test_noise_is_recognised(text: str, reason: str) -> None:
    assert not_incident_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "Здравствуйте! У нас нет света",
        "Спасибо, но свет так и не дали",
        "Спасибо за ответ, но когда будет сделано?",
        "бля дорогу почините уже",
        "Добрый вечер, когда уберут мусор?",
        "Почему не работает бесплатная акция, звоню 8 900 123 45 67",
        "У нас заработная плата учителей задерживается второй месяц, телефон школы 8 486 662-12-34",
        "нет",
        "Яма",
    ],
)
def test_what_may_be_a_request_is_routed(text: str) -> None:
    assert not_incident_reason(text) is None


def test_a_photo_without_words_may_show_a_problem() -> None:
    assert not_incident_reason("", has_attachments=True) is None
    assert not_incident_reason("👀", has_attachments=True) is None


def test_a_long_letter_is_never_an_advert() -> None:
    letter = "Продам вам правду: " + "дорога разбита и никто не чинит " * 20 + "пишите в лс"
    assert not_incident_reason(letter) is None
