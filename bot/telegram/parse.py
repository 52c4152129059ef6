"""Translation of Telegram messages into platform-neutral citizen messages."""

from __future__ import annotations

from aiogram.types import Message, MessageOriginChannel, User

from handlers.types import Attachment, AuthorRef, CitizenMessage, SourceRef
from storage.models import SourceKind

PLATFORM = "telegram"


def direct_source(bot_id: int) -> SourceRef:
    return SourceRef(platform=PLATFORM, kind=SourceKind.TG_DIRECT, external_id=f"bot{bot_id}", title="")


def author_of(user: User) -> AuthorRef:
    return AuthorRef(
        platform=PLATFORM,
        external_id=str(user.id),
        name=user.full_name,
        username=user.username,
        profile_url=f"https://t.me/{user.username}" if user.username else None,
    )


def attachments_of(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        found.append(Attachment(kind="photo", file_id=message.photo[-1].file_id))
    for kind in ("video", "video_note", "voice", "audio", "animation", "sticker"):
        item = getattr(message, kind, None)
        if item is not None:
            found.append(Attachment(kind=kind, file_id=item.file_id, name=getattr(item, "emoji", None)))
    if message.document is not None and message.animation is None:
        found.append(Attachment(kind="document", file_id=message.document.file_id, name=message.document.file_name))
    if message.location is not None:
        found.append(Attachment(kind="location", name=f"{message.location.latitude},{message.location.longitude}"))
    if message.contact is not None:
        found.append(Attachment(kind="contact", name=message.contact.phone_number))
    if message.poll is not None:
        found.append(Attachment(kind="poll", name=message.poll.question))
    return tuple(found)


def group_permalink(message: Message) -> str | None:
    """A link to the message: the channel post's comment where we can tell it, else the group message."""
    reply = message.reply_to_message
    if reply is not None and reply.is_automatic_forward and isinstance(reply.forward_origin, MessageOriginChannel):
        channel = reply.forward_origin.chat
        if channel.username:
            return f"https://t.me/{channel.username}/{reply.forward_origin.message_id}?comment={message.message_id}"
    if message.chat.username:
        return f"https://t.me/{message.chat.username}/{message.message_id}"
    chat_id = str(message.chat.id)
    if chat_id.startswith("-100"):
        return f"https://t.me/c/{chat_id[4:]}/{message.message_id}"
    return None


def citizen_message(message: Message, *, bot_id: int) -> CitizenMessage | None:
    """The citizen message in a Telegram message, or None if there is no person behind it."""
    user = message.from_user
    if user is None or user.is_bot or message.sender_chat is not None:
        # Channel posts, anonymous admins and bots speak for an organisation, not a citizen.
        return None
    chat = message.chat
    text = message.text or message.caption or ""
    if chat.type == "private":
        source = direct_source(bot_id)
        thread = str(chat.id)
        permalink = None
    else:
        source = SourceRef(
            platform=PLATFORM, kind=SourceKind.TG_GROUP, external_id=str(chat.id), title=chat.title or ""
        )
        thread = f"{chat.id}:{message.message_thread_id}" if message.message_thread_id else str(chat.id)
        permalink = group_permalink(message)
    return CitizenMessage(
        source=source,
        external_id=f"{chat.id}:{message.message_id}",
        thread_id=thread,
        chat_id=str(chat.id),
        message_id=str(message.message_id),
        author=author_of(user),
        text=text,
        sent_at=message.date,
        attachments=attachments_of(message),
        permalink=permalink,
        private=chat.type == "private",
    )
