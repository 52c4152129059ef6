"""What is plainly not an incident: thanks, greetings, emoji only, advertising and spam, profanity only.

These checks are deliberately narrow: a message is set aside only when *every* word of it is thanks, a
greeting or swearing, or when it reads like an advertisement. Anything else goes to routing. What is set
aside is still logged, with its reason, and one tap brings it back (`reopen_incident`).
"""

from __future__ import annotations

import re

EMPTY = "empty"
EMOJI = "emoji"
THANKS = "thanks"
GREETING = "greeting"
REACTION = "reaction"
SPAM = "spam"
PROFANITY = "profanity"
MODEL = "model"  # the classifier is sure it is not an incident (shown as a suggestion, never applied alone)
RULE = "rule"  # an auto-rule marked «не инцидент» by staff
STAFF = "staff"  # a staff member pressed «Не инцидент»

REASON_TITLES = {
    EMPTY: "пустое сообщение",
    EMOJI: "только эмодзи или знаки",
    THANKS: "благодарность",
    GREETING: "приветствие",
    REACTION: "короткая реплика без просьбы",
    SPAM: "реклама или спам",
    PROFANITY: "только брань",
    MODEL: "по оценке классификатора",
    RULE: "автоправило",
    STAFF: "решение сотрудника",
}

_WORD = re.compile(r"[а-яёa-z0-9]+", re.IGNORECASE)
_URL = re.compile(r"(https?://|www\.|t\.me/|vk\.cc/|bit\.ly/|\b[a-z0-9-]+\.(ru|com|рф|net|org|xyz|io)\b)", re.I)
_PHONE = re.compile(r"(\+7|\b8)[\s(-]*\d{3}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}\b")


def _list(words: str) -> tuple[str, ...]:
    return tuple(words.split())


# Whole words that may fill a thanks or a greeting without making it a request.
_FILLER = set(
    _list(
        """вам вас тебе всем всех вы ты и за с от на очень огромное огромный большое большой сердечное искреннее души
        всей всего все наш наше наши ваш вашу ваше вашим уважаемые уважаемый друзья коллеги администрация администрации
        глава главе района район быстро оперативно оперативность помощь ответ работу работа труд внимание отзывчивость
        понимание сделали решили помогли так держать молодцы молодец класс супер отлично хорошо ок ok понял поняла
        поняли ясно понятно ладно да ага угу тоже взаимно желаю желаем здоровья удачи счастья доброго хорошего дня
        вечера праздником новым годом рождеством победы днем пожалуйста пжл пж еще раз добра мира"""
    )
)
_THANKS = _list("спасиб спс пасиб благодар мерси сенкс thank thx респект")
_GREETING = _list("здравствуй здрасьт здорово привет приветств добрый доброе доброго доброй hello hi")
_GREETING_WORDS = {"день", "утро", "вечер", "ночи", "утра", "вечера", "всем"}
_SWEAR = _list(
    """хуй хуе хуя пизд ебат ебан ебал еба бля сука суки мудак мудач говн дерьм жоп гандон пидор пидар залуп нахуй
    нахер хер херн"""
)
# Advertising: words that sell, recruit or lure, which a complaint hardly ever contains; with a link, a phone
# number or «пишите в личку» a single one is enough.
_ADS = _list(
    """заработок заработк заработай казино букмекер промокод подпишис подписывайтес скидк распродаж криптовалют
    розыгрыш пассивн инвестируй вакансия"""
)
_ADS_WORDS = {"продам", "продаю", "куплю", "отдам", "сдам", "сниму", "заработать"}
_LURES = ("лс", "личк", "директ", "whatsapp", "ватсап", "вотсап", "телеграм")
_MAX_SHORT = 15  # words: a thanks or a greeting longer than this probably says something else too
_MAX_AD = 80  # words: an advertisement is short; a long letter that mentions earnings is a complaint


def _starts(word: str, stems: tuple[str, ...]) -> bool:
    return word.startswith(stems)


def not_incident_reason(text: str, *, has_attachments: bool = False) -> str | None:
    """Why this message is plainly not an incident, or None when it may well be one (then it is routed)."""
    words = [w.lower().replace("ё", "е") for w in _WORD.findall(text)]
    if not words:
        if has_attachments:
            return None  # a photo with no words can show a problem
        return EMOJI if text.strip() else EMPTY
    if len(words) <= _MAX_SHORT and not has_attachments:
        if all(_starts(w, _SWEAR) for w in words):
            return PROFANITY
        thanks = any(_starts(w, _THANKS) for w in words)
        greeting = any(_starts(w, _GREETING) for w in words)
        if thanks or greeting:
            rest = [w for w in words if not (_starts(w, _THANKS) or _starts(w, _GREETING) or w in _GREETING_WORDS)]
            if all(w in _FILLER or _starts(w, _SWEAR) or w.isdigit() for w in rest):
                return THANKS if thanks else GREETING
        if len(words) <= 3 and all(w in _FILLER for w in words):
            return REACTION  # «ок», «понятно», «да, хорошо»
    if len(words) > _MAX_AD:
        return None
    ads = sum(1 for w in words if _starts(w, _ADS) or w in _ADS_WORDS)
    lures = bool(_URL.search(text) or _PHONE.search(text)) or any(_starts(w, _LURES) for w in words)
    if ads >= 2 or (ads and lures):
        return SPAM
    return None
