"""Every word the bot says on VK, in one place for review."""

from __future__ import annotations

ACK = (
    "Здравствуйте! Ваше сообщение зарегистрировано под номером {number}. "
    "Ответственные специалисты администрации рассмотрят его и ответят здесь же."
)
NO_TOKEN = "нет токена VK для этого источника (VK_COMMUNITY_TOKEN или VK_USER_TOKEN в .env)"
