"""Every word the Telegram bot says, in one place for review."""

from __future__ import annotations

# Buttons of an incident card.
BTN_ACCEPT = "Принять"
BTN_ANSWER = "Ответить"
BTN_REASSIGN = "Другой блок"
BTN_REJECT = "Не инцидент"
BTN_REJECT_SUGGESTED = "→ Не инцидент ({percent}%)"
BTN_REOPEN = "Вернуть в работу"
BTN_CLOSE = "Закрыть"
BTN_BACK = "« Назад"
BTN_SUGGESTED = "→ {sector} ({percent}%)"
BTN_PUBLISH = "Опубликовать как окончательный"
BTN_PUBLISH_INTERIM = "Опубликовать как промежуточный"
BTN_MORE = "Ещё…"
BTN_URGENT = "🔥 Срочный"
BTN_NOT_URGENT = "Не срочный"
BTN_WAIT = "⏸ Ждём ответа жителя"
BTN_RESUME = "▶️ Продолжить работу"
BTN_EXTEND = "Продлить срок"
BTN_EXTEND_DAYS = "+{days} раб. дн."
BTN_APPEAL = "Обращение по 59-ФЗ (30 дней)"
BTN_SOCIAL = "Не по 59-ФЗ"
BTN_EDIT = "Изменить"
BTN_CANCEL = "Отмена"

CARD_TITLE = "Инцидент № {number}"
CARD_STATUS = "Статус: {status}"
CARD_SECTOR = "Блок: {sector}"
CARD_TRIAGE = "Блок: не определён — выберите кнопкой ниже"
CARD_ASSIGNEE = "Ответственный: {name}"
CARD_ASSIGNEE_NOT_LINKED = "{name} (не подключён к боту)"
CARD_SOURCE = "Источник: {source}"
CARD_OPEN_ORIGINAL = "открыть сообщение"
CARD_AUTHOR = "Автор: {author}"
CARD_SETTLEMENT = "Населённый пункт: {settlement}"
CARD_RECEIVED = "Поступило: {at}"
CARD_DUE = {"reaction": "Срок реакции: {at}", "answer": "Срок окончательного ответа: {at}"}
CARD_OVERDUE = " — просрочен"
CARD_PAUSED = "Срок приостановлен: ждём ответа жителя (осталось {left})"
CARD_URGENT = "🔥 Срочный"
CARD_APPEAL = "Порядок: обращение по 59-ФЗ"
CARD_NO_TEXT = "[без текста]"
CARD_ATTACHMENTS = "Вложения: {items}"
CARD_FOLLOWUPS = "Дополнений от жителя: {count}"
CARD_NOT_INCIDENT = "Причина: {reason}"
CARD_PROBLEM_LEAD = "Проблема: обращений {count} (это первое; ответ и закрытие — для всех сразу)"
CARD_PROBLEM_MEMBER = "Входит в проблему инцидента № {lead} (обращений {count})"
CARD_TEXT_CUT = "… (текст сокращён, всего {total} знаков)"
CARD_FULL_TEXT = "полный текст"
CARD_REPLY = "Ответ: {who}, {at} — {state}"


ACK = (
    "Здравствуйте! Ваше сообщение зарегистрировано под номером {number}. "
    "Ответственные специалисты администрации рассмотрят его и ответят здесь же."
)

SURVEY_QUESTION = "По вашему обращению № {number} дан ответ. Проблема решена?"
BTN_SOLVED = "Да, решена"
BTN_UNSOLVED = "Нет, не решена"
SURVEY_RATE = "Спасибо! Оцените, пожалуйста, ответ: 1 — плохо, 5 — отлично."
SURVEY_THANKS = "Спасибо за оценку! Она помогает администрации работать лучше."
SURVEY_UNSOLVED = (
    "Жаль, что проблема не решена. Напишите одним сообщением, что осталось нерешённым, — мы передадим "
    "ответственному, и обращение № {number} снова в работе."
)
NOTICE_UNSOLVED = (
    "↩️ Житель сообщил, что проблема по инциденту № {number} не решена: инцидент снова в работе, срок ответа — "
    "{due}. Пояснение жителя придёт отдельным сообщением.\n{summary}"
)

NOTICE_FOLLOWUP = "✉️ Дополнение от жителя к инциденту № {number}:\n\n{text}"
NOTICE_PROBLEM_REPORT = (
    "🔁 Ещё одно обращение по той же проблеме, что инцидент № {number} (№ {report}, всего {count}):\n\n{text}"
)
PHASE_DEADLINE = {"reaction": "срок реакции", "answer": "срок окончательного ответа"}
NOTICE_REMINDER = "⏰ Напоминание: по инциденту № {number} {phase} истекает {due}.\n{summary}"
NOTICE_REMINDER_HALF = "⏰ Прошла половина срока: по инциденту № {number} {phase} — {due}.\n{summary}"
NOTICE_REMINDER_DUE = "⏰ По инциденту № {number} {phase} истёк ({due}).\n{summary}"
NOTICE_ESCALATION = (
    "🔴 Истёк {phase}: инцидент № {number}, блок «{sector}», ответственный — {assignee}.\nСрок был: {due}.\n{summary}"
)
DIGEST_TITLE = "📋 Сводка на {date}: просрочено — {overdue}, срок сегодня — {today}."
DIGEST_LINE = "{mark} № {number} · {sector} · срок {due} · {text}"
DIGEST_MORE = "…и ещё {count}: полный список в админке."
NOTICE_REPLY_FAILED = "⚠️ Ответ по инциденту № {number} не удалось опубликовать: {error}\nИнцидент снова в работе."

NOTICE_SOURCE_FAILED = (
    "⛔️ Источник остановлен: {source}.\nПричина: {error}\n"
    "Остальные источники работают. Обновите токен или доступ и подключите источник снова."
)

ASK_ANSWER = "Ответ жителю по инциденту № {number}. Напишите текст одним сообщением (ответом на это сообщение)."
ASK_ANSWER_PLACEHOLDER = "Текст ответа жителю"
PREVIEW = "Предпросмотр ответа по инциденту № {number}. Он будет опубликован там, где писал житель:\n\n{text}"
ANSWER_ACCEPTED = "Ответ по инциденту № {number} принят и публикуется."
ANSWER_INTERIM_ACCEPTED = (
    "Промежуточный ответ по инциденту № {number} принят и публикуется. Срок окончательного ответа — {due}."
)
ASK_EXTEND_REASON = (
    "Продление срока по инциденту № {number} до {until}. Напишите причину одним сообщением (ответом на это)."
)
ASK_EXTEND_PLACEHOLDER = "Причина продления"
EXTEND_SESSION_LOST = "Продление не найдено. Нажмите «Продлить срок» на карточке ещё раз."
ANSWER_CANCELLED = "Ответ отменён."
ANSWER_TEXT_REQUIRED = "Нужен текст ответа. Напишите его одним сообщением или нажмите «Отмена»."
ANSWER_SESSION_LOST = "Черновик ответа не найден. Нажмите «Ответить» на карточке ещё раз."
CHOOSE_SECTOR = "Выберите блок"
DONE_ACCEPTED = "Принято в работу"
DONE_REASSIGNED = "Передано в блок «{sector}»"
DONE_REJECTED = "Отмечено «не инцидент»"
DONE_REOPENED = "Возвращено в работу"
DONE_CLOSED = "Инцидент закрыт"
DONE_WAITING = "Срок приостановлен: ждём ответа жителя"
DONE_RESUMED = "Срок снова идёт"
DONE_URGENT = "Отмечен срочным: срок реакции — {due}"
DONE_NOT_URGENT = "Больше не срочный: срок реакции — {due}"
DONE_APPEAL = "Рассматривается по 59-ФЗ: срок ответа — {due}"
DONE_SOCIAL = "Рассматривается как сообщение из соцсетей: срок — {due}"
DONE_EXTENDED = "Срок по инциденту № {number} продлён до {until}."
CHOOSE_EXTENSION = "На сколько продлить срок?"

NOT_STAFF = "Эта кнопка — для сотрудников МЦУ."
UNKNOWN_ERROR = "Не получилось выполнить действие. Попробуйте ещё раз; если не выйдет — сообщите администратору."

LINKED = "Готово: вы подключены как {name} ({roles}). Сюда будут приходить карточки инцидентов и напоминания."
STAFF_HELP = (
    "Вы подключены как {name} ({roles}).\n"
    "Карточки инцидентов приходят сюда и в служебный чат МЦУ; действуйте кнопками на карточке.\n\n"
    "Команды в группах (для ответственного за аккаунты, руководителя и куратора МЦУ):\n"
    "/staffchat — сделать этот чат служебным чатом МЦУ;\n"
    "/watch — отслеживать эту группу как местное сообщество;\n"
    "/watch_comments — отслеживать эту группу как обсуждение официального канала;\n"
    "/unwatch — перестать отслеживать эту группу."
)
CITIZEN_START = (
    "Здравствуйте! Это бот администрации Троснянского района. Опишите проблему или вопрос одним сообщением: "
    "где и что случилось. Можно приложить фото. Мы зарегистрируем сообщение и ответим здесь."
)
COMMAND_ONLY_IN_GROUP = "Эту команду нужно отправить в той группе, которую вы хотите подключить."
COMMAND_STAFF_ONLY = "Команда доступна только сотрудникам МЦУ, подключённым к боту."
STAFF_CHAT_SET = "Этот чат назначен служебным чатом МЦУ: сюда будут приходить карточки всех инцидентов."
WATCH_ON = "Группа «{title}» отслеживается ({kind}). Сообщения жителей отсюда становятся инцидентами."
WATCH_OFF = "Группа «{title}» больше не отслеживается."

DATETIME_FORMAT = "%d.%m.%Y %H:%M"
