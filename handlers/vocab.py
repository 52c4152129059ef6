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
