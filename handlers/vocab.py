"""Russian names of the domain's statuses, roles and source kinds, shared by every adapter."""

from __future__ import annotations

STATUS_TITLES = {
    "new": "новый",
    "assigned": "назначен",
    "in_progress": "в работе",
    "answered": "дан ответ",
    "closed": "закрыт",
    "rejected": "не инцидент",
    "duplicate": "дубликат",
    "waiting": "ждём ответа жителя",
}

ROLE_TITLES = {
    "curator": "куратор МЦУ",
    "mcu_head": "руководитель МЦУ",
    "officer": "ответственный за «Инцидент менеджмент» и аккаунты",
    "pos_officer": "ответственный за ПОС и «Обращаем внимание»",
    "sector_head": "руководитель отраслевого блока",
    "admin": "администратор",
}

SOURCE_KIND_TITLES = {
    "tg_direct": "Telegram, личные сообщения боту",
    "tg_discussion": "Telegram, комментарии канала",
    "tg_group": "Telegram, местная группа",
    "vk_community": "VK, сообщество администрации",
    "vk_user_page": "VK, страница главы района",
    "vk_watched_public": "VK, местный паблик",
}

EVENT_TITLES = {
    "received": "получено сообщение",
    "routed": "направлено в блок",
    "triage": "блок не определён: выбор за ответственным",
    "followup": "дополнение от жителя",
    "edited": "житель изменил текст",
    "deleted": "житель удалил сообщение",
    "accepted": "принято в работу",
    "reassigned": "передано в другой блок",
    "answered": "подготовлен ответ",
    "reply_published": "ответ опубликован",
    "reply_failed": "ответ не опубликован",
    "rejected": "отмечено «не инцидент»",
    "closed": "закрыто",
    "reopened": "открыто снова",
    "grouped": "присоединено к проблеме",
    "survey_asked": "житель спрошен, решена ли проблема",
    "citizen_solved": "житель: проблема решена",
    "citizen_unsolved": "житель: проблема не решена — снова в работе",
    "citizen_rated": "житель оценил ответ",
    "problem_report": "ещё одно обращение по этой проблеме",
    "reminder_sent": "напоминание о сроке",
    "escalated": "эскалация: срок истёк",
    "paused": "срок приостановлен: ждём ответа жителя",
    "resumed": "срок снова идёт",
    "deadline_extended": "срок продлён",
    "urgency_changed": "изменена срочность",
    "track_changed": "изменён порядок рассмотрения",
}

TRACK_TITLES = {"social": "сообщение из соцсетей", "appeal": "обращение по 59-ФЗ"}
PHASE_TITLES = {"reaction": "срок реакции", "answer": "срок окончательного ответа"}

ATTACHMENT_TITLES = {
    "photo": "фото",
    "video": "видео",
    "video_note": "видеосообщение",
    "voice": "голосовое сообщение",
    "audio": "аудио",
    "document": "документ",
    "sticker": "стикер",
    "animation": "анимация",
    "location": "геопозиция",
    "contact": "контакт",
    "poll": "опрос",
    "other": "вложение",
}
REPLY_STATES = {"pending": "публикуется", "published": "опубликован", "failed": "не опубликован"}

# What the audit trail calls each change, and its objects and details, in Russian.
AUDIT_TITLES = {
    "incident_accept": "инцидент принят в работу",
    "incident_answer": "ответ по инциденту",
    "incident_reassign": "инцидент передан в другой блок",
    "incident_reject": "отмечено «не инцидент»",
    "incident_close": "инцидент закрыт",
    "incident_reopen": "инцидент возвращён в работу",
    "incident_wait": "ждём ответа жителя",
    "incident_resume": "срок снова идёт",
    "incident_extend": "срок продлён",
    "incident_urgent": "изменена срочность",
    "incident_track": "изменён порядок рассмотрения",
    "policy_created": "добавлена политика сроков",
    "policy_changed": "изменена политика сроков",
    "policy_deleted": "удалена политика сроков",
    "deadline_settings_changed": "изменены рабочие часы и напоминания",
    "calendar_day_set": "исключение в рабочем календаре",
    "calendar_day_removed": "снято исключение в календаре",
    "rule_created": "добавлено автоправило",
    "rule_changed": "изменено автоправило",
    "rule_moved": "автоправило перемещено",
    "sector_changed": "изменён блок",
    "settlement_created": "добавлен населённый пункт",
    "settlement_changed": "изменён населённый пункт",
    "source_changed": "изменён источник",
    "staff_created": "добавлен сотрудник",
    "staff_changed": "изменён сотрудник",
    "staff_invited": "выдано приглашение в бота",
    "staff_unlinked": "Telegram сотрудника отвязан",
    "staff_chat_set": "назначен служебный чат",
    "user_created": "создан пользователь",
    "user_changed": "изменён пользователь",
}
AUDIT_TARGETS = {
    "incident": "инцидент №",
    "deadline_policy": "политика сроков №",
    "calendar_day": "день",
    "rule": "автоправило №",
    "sector": "блок",
    "settlement": "населённый пункт №",
    "source": "источник №",
    "staff": "сотрудник №",
    "user": "пользователь №",
    "settings": "настройки сроков",
}
AUDIT_FIELDS = {
    "text": "текст",
    "final": "окончательный",
    "sector": "блок",
    "reason": "причина",
    "until": "до",
    "working_days": "рабочих дней",
    "urgent": "срочный",
    "track": "порядок",
    "role": "роль",
    "active": "действует",
    "password_reset": "пароль сменён",
    "staff_id": "сотрудник №",
    "login": "логин",
    "name": "название",
    "note": "примечание",
    "working": "рабочий",
    "start": "начало",
    "end": "конец",
}


def audit_target(target: str) -> str:
    """«incident:5» as «инцидент № 5»."""
    kind, _, key = target.partition(":")
    title = AUDIT_TARGETS.get(kind, kind)
    return f"{title} {key}" if key else title


def audit_value(value: object) -> str:
    if value is True:
        return "да"
    if value is False:
        return "нет"
    if value is None:
        return "—"
    return str(value)
