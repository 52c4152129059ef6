"""Platform-neutral inbound types: every platform event becomes a CitizenMessage before it reaches handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SourceRef:
    """A monitored account or chat, as the platform names it."""

    platform: str
    kind: str
    external_id: str
    title: str = ""
    username: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorRef:
    platform: str
    external_id: str
    name: str = ""
    username: str | None = None
    profile_url: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # photo, video, voice, audio, document, sticker, animation, location, contact, other
    file_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CitizenMessage:
    """One citizen message from any platform.

    `external_id` is unique within the source (idempotent intake); `thread_id` groups follow-ups;
    `chat_id`/`message_id` say where an answer goes.
    """

    source: SourceRef
    external_id: str
    thread_id: str
    chat_id: str
    message_id: str
    author: AuthorRef
    text: str
    sent_at: datetime
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    permalink: str | None = None
    # A private dialog (a message to the bot or the community), not a public comment.
    private: bool = False
