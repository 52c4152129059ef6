"""Translation of VK events and wall comments into platform-neutral citizen messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.types import Attachment, AuthorRef, CitizenMessage, SourceRef

PLATFORM = "vk"
_MENTION = re.compile(r"\[(?:id|club|public)\d+\|([^\]]*)\]")
_ATTACHMENT_KINDS = {
    "photo": "photo",
    "video": "video",
    "audio": "audio",
    "doc": "document",
    "sticker": "sticker",
    "audio_message": "voice",
    "graffiti": "photo",
    "poll": "poll",
}


def plain_text(text: str) -> str:
    """VK mention markup `[id123|Имя]` reads as the name, as people see it on VK."""
    return _MENTION.sub(r"\1", text or "")


def attachments_of(items: list[dict[str, Any]] | None) -> tuple[Attachment, ...]:
    found = []
    for item in items or []:
        kind = str(item.get("type", "other"))
        found_body = item.get(kind)
        body: dict[str, Any] = found_body if isinstance(found_body, dict) else {}
        file_id = f"{kind}{body.get('owner_id')}_{body.get('id')}" if body.get("id") is not None else None
        found.append(Attachment(kind=_ATTACHMENT_KINDS.get(kind, "other"), file_id=file_id, name=body.get("title")))
    return tuple(found)


def author_of(from_id: int, names: dict[int, str]) -> AuthorRef:
    return AuthorRef(
        platform=PLATFORM,
        external_id=str(from_id),
        name=names.get(from_id, ""),
        profile_url=f"https://vk.com/id{from_id}",
    )


def _at(stamp: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(stamp), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Change:
    """An edit or a deletion of something a citizen wrote earlier."""

    external_id: str
    text: str | None  # None for a deletion


def _comment(
    source: SourceRef, obj: dict[str, Any], *, place: str, external_id: str, permalink: str, names: dict[int, str]
) -> CitizenMessage | None:
    """A comment under a post, photo, video or topic (`place`); None if a community wrote it (us included)."""
    from_id = int(obj.get("from_id") or 0)
    if from_id <= 0 or obj.get("deleted"):
        return None
    return CitizenMessage(
        source=source,
        external_id=external_id,
        thread_id=place,
        chat_id=place,
        message_id=str(int(obj["id"])),
        author=author_of(from_id, names),
        text=plain_text(str(obj.get("text", ""))),
        sent_at=_at(obj.get("date")),
        attachments=attachments_of(obj.get("attachments")),
        permalink=permalink,
    )


def comment_message(
    source: SourceRef, comment: dict[str, Any], *, owner_id: int, post_id: int, names: dict[int, str]
) -> CitizenMessage | None:
    """A wall comment, from an event or from wall.getComments."""
    if int(comment.get("from_id") or 0) == owner_id:
        # The wall's owner on their own wall: on the head's page that is our answer, made with the user token.
        return None
    comment_id = int(comment["id"])
    return _comment(
        source,
        comment,
        place=f"wall{owner_id}_{post_id}",
        external_id=f"wall{owner_id}_{comment_id}",
        permalink=f"https://vk.com/wall{owner_id}_{post_id}?reply={comment_id}",
        names=names,
    )


def _object_comment(
    source: SourceRef, obj: dict[str, Any], *, kind: str, owner_key: str, item_key: str, names: dict[int, str]
) -> CitizenMessage | None:
    owner, item, comment_id = int(obj[owner_key]), int(obj[item_key]), int(obj["id"])
    links = {
        "photo": f"https://vk.com/photo{owner}_{item}",
        "video": f"https://vk.com/video{owner}_{item}",
        "topic": f"https://vk.com/topic{owner}_{item}?post={comment_id}",
    }
    return _comment(
        source,
        obj,
        place=f"{kind}{owner}_{item}",
        external_id=f"{kind}{owner}_{item}_{comment_id}",
        permalink=links[kind],
        names=names,
    )


def event_message(event: dict[str, Any], *, names: dict[int, str]) -> CitizenMessage | Change | None:
    """What a Bots Long Poll or Callback API event says; None for events that carry no citizen message."""
    group_id = int(event["group_id"])
    kind = str(event.get("type", ""))
    obj = event.get("object") or {}
    source = SourceRef(platform=PLATFORM, kind="vk_community", external_id=str(group_id))
    if kind == "wall_reply_new":
        return comment_message(source, obj, owner_id=int(obj["owner_id"]), post_id=int(obj["post_id"]), names=names)
    if kind == "wall_reply_edit":
        return Change(external_id=f"wall{int(obj['owner_id'])}_{int(obj['id'])}", text=plain_text(obj.get("text", "")))
    if kind == "wall_reply_delete":
        return Change(external_id=f"wall{int(obj['owner_id'])}_{int(obj['id'])}", text=None)
    if kind == "message_new":
        message = obj.get("message") or obj
        from_id = int(message.get("from_id") or 0)
        peer_id = int(message.get("peer_id") or from_id)
        if from_id <= 0 or message.get("out"):
            return None
        return CitizenMessage(
            source=source,
            external_id=f"msg{int(message['id'])}"
            if message.get("id")
            else f"cmsg{peer_id}_{message['conversation_message_id']}",
            thread_id=f"peer{peer_id}",
            chat_id=f"peer{peer_id}",
            message_id=str(message.get("id") or ""),
            author=author_of(from_id, names),
            text=plain_text(str(message.get("text", ""))),
            sent_at=_at(message.get("date")),
            attachments=attachments_of(message.get("attachments")),
            permalink=f"https://vk.com/gim{group_id}?sel={peer_id}",
            private=True,
        )
    if kind == "message_edit":
        if not obj.get("id") or int(obj.get("from_id") or 0) <= 0:
            return None
        return Change(external_id=f"msg{int(obj['id'])}", text=plain_text(str(obj.get("text", ""))))
    if kind == "photo_comment_new":
        return _object_comment(source, obj, kind="photo", owner_key="photo_owner_id", item_key="photo_id", names=names)
    if kind == "video_comment_new":
        return _object_comment(source, obj, kind="video", owner_key="video_owner_id", item_key="video_id", names=names)
    if kind == "board_post_new":
        return _object_comment(source, obj, kind="topic", owner_key="topic_owner_id", item_key="topic_id", names=names)
    if kind == "wall_post_new" and obj.get("post_type") == "suggest":
        from_id = int(obj.get("from_id") or obj.get("signer_id") or 0)
        if from_id <= 0:
            return None
        owner, post = int(obj["owner_id"]), int(obj["id"])
        return CitizenMessage(
            source=source,
            external_id=f"suggest{owner}_{post}",
            thread_id=f"suggest{owner}_{post}",
            # A suggested post cannot be commented on: the answer goes to the author's dialog with the community.
            chat_id=f"peer{from_id}",
            message_id="",
            author=author_of(from_id, names),
            text=plain_text(str(obj.get("text", ""))),
            sent_at=_at(obj.get("date")),
            attachments=attachments_of(obj.get("attachments")),
            permalink=f"https://vk.com/wall{owner}_{post}",
        )
    return None


def author_ids(event: dict[str, Any]) -> list[int]:
    """The people whose names an event needs."""
    obj = event.get("object") or {}
    message = obj.get("message") if isinstance(obj.get("message"), dict) else obj
    from_id = message.get("from_id") if isinstance(message, dict) else None
    try:
        return [int(from_id)] if from_id and int(from_id) > 0 else []
    except (TypeError, ValueError):
        return []
