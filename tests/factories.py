"""Builders of platform-neutral citizen messages for handler tests."""

from __future__ import annotations

import itertools
from datetime import datetime

from handlers.types import Attachment, AuthorRef, CitizenMessage, SourceRef
from storage.models import SourceKind

_ids = itertools.count(1000)

DIRECT = SourceRef(platform="telegram", kind=SourceKind.TG_DIRECT, external_id="bot42")


def citizen(
    text: str,
    *,
    at: datetime,
    user: int = 501,
    chat: int | None = None,
    message_id: int | None = None,
    source: SourceRef = DIRECT,
    thread: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    name: str = "Иван Петров",
    private: bool | None = None,
) -> CitizenMessage:
    chat_id = chat if chat is not None else user
    number = message_id if message_id is not None else next(_ids)
    return CitizenMessage(
        source=source,
        external_id=f"{chat_id}:{number}",
        thread_id=thread or str(chat_id),
        chat_id=str(chat_id),
        message_id=str(number),
        author=AuthorRef(platform="telegram", external_id=str(user), name=name),
        text=text,
        sent_at=at,
        attachments=attachments,
        private=source.kind == SourceKind.TG_DIRECT if private is None else private,
    )
