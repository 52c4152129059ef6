"""VK event payloads as VK sends them (API 5.199), for tests."""

from __future__ import annotations

import itertools
from typing import Any

GROUP = 777
_ids = itertools.count(1)


def envelope(kind: str, obj: dict[str, Any], *, group_id: int = GROUP, event_id: str | None = None) -> dict[str, Any]:
    return {
        "group_id": group_id,
        "type": kind,
        "event_id": event_id or f"ev{next(_ids):06x}",
        "v": "5.199",
        "object": obj,
    }


def wall_reply(
    text: str, *, from_id: int = 1001, comment_id: int = 55, post_id: int = 10, **extra: Any
) -> dict[str, Any]:
    obj = {"id": comment_id, "from_id": from_id, "date": 1764000000, "text": text, "post_id": post_id,
           "owner_id": -GROUP, "parents_stack": [], **extra}  # fmt: skip
    return envelope("wall_reply_new", obj)


def message_new(text: str, *, from_id: int = 1001, message_id: int = 300, **extra: Any) -> dict[str, Any]:
    message = {"id": message_id, "date": 1764000000, "peer_id": from_id, "from_id": from_id, "text": text,
               "conversation_message_id": message_id, "attachments": [], "out": 0, **extra}  # fmt: skip
    return envelope("message_new", {"message": message, "client_info": {"keyboard": True}})
