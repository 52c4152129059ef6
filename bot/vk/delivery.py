"""Publishing to VK: answers and acknowledgements go where the citizen wrote (a comment reply or the dialog)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.textsplit import split_message
from bot.vk import texts
from bot.vk.client import VkClient, VkError, VkUnavailable
from bot.worker import DeliveryFailed
from handlers import outbox
from handlers.sources import suspend_source
from storage.models import Incident, Outbox, Reply, Source, SourceKind

_TARGET = re.compile(r"^(wall|photo|video|topic|peer)(-?\d+)(?:_(\d+))?$")


@dataclass
class VkClients:
    community: VkClient | None
    user: VkClient | None
    community_id: int | None

    def for_source(self, source: Source) -> VkClient | None:
        # The head's page answers as the head (the officer keeps that account); everything else as the community.
        return self.user if source.kind == SourceKind.VK_USER_PAGE else self.community


class VkSender:
    platform = "vk"

    def __init__(self, clients: VkClients) -> None:
        self.clients = clients

    async def send(self, session: AsyncSession, item: Outbox, now: datetime) -> list[str]:
        assert item.incident_id is not None
        incident = await session.get(Incident, item.incident_id)
        source = await session.get(Source, incident.source_id) if incident else None
        if incident is None or source is None:
            raise DeliveryFailed(outbox.Failure(error="incident or source is gone", permanent=True))
        client = self.clients.for_source(source)
        if client is None:
            raise DeliveryFailed(outbox.Failure(error=texts.NO_TOKEN, permanent=True))
        if item.kind == outbox.ACK:
            text = texts.ACK.format(number=incident.id)
        elif item.kind == outbox.PROMPT:
            text = texts.PROMPT
        elif item.kind == outbox.REPLY and item.reply_id is not None:
            reply = await session.get(Reply, item.reply_id)
            text = reply.text if reply else ""
        else:
            raise DeliveryFailed(outbox.Failure(error=f"VK cannot deliver {item.kind}", permanent=True))
        try:
            return await self._publish(client, source, item, incident.message_ref, text)
        except VkError as error:
            if error.fatal and source.id is not None:
                # The token or the access is gone: stop the source and tell the staff, as intake does.
                await suspend_source(session, source_id=source.id, error=str(error), now=now)
            raise DeliveryFailed(outbox.Failure(error=str(error), permanent=True)) from error
        except VkUnavailable as error:
            raise DeliveryFailed(outbox.Failure(error=str(error))) from error

    async def _publish(self, client: VkClient, source: Source, item: Outbox, reply_to: str, text: str) -> list[str]:
        match = _TARGET.match(item.chat_id)
        if match is None:
            raise DeliveryFailed(outbox.Failure(error=f"unknown VK target {item.chat_id}", permanent=True))
        kind, owner, thing = match.group(1), int(match.group(2)), int(match.group(3) or 0)
        as_community = {"from_group": self.clients.community_id} if source.kind != SourceKind.VK_USER_PAGE else {}
        ids: list[str] = []
        for number, part in enumerate(split_message(text)):
            # Only the first part answers the comment; the rest follow it.
            answer_to = {"reply_to_comment": int(reply_to)} if reply_to and number == 0 else {}
            if kind == "peer":
                params = {"peer_id": owner, "message": part, "random_id": (item.id or 0) * 100 + number}
                if reply_to and number == 0:
                    params["reply_to"] = int(reply_to)
                ids.append(str(await client.call("messages.send", **params)))
            elif kind == "wall":
                answer = await client.call(
                    "wall.createComment", owner_id=owner, post_id=thing, message=part, **answer_to, **as_community
                )
                ids.append(str(answer["comment_id"]))
            elif kind == "photo":
                result = await client.call(
                    "photos.createComment", owner_id=owner, photo_id=thing, message=part, **answer_to, **as_community
                )
                ids.append(str(result))
            elif kind == "video":
                result = await client.call(
                    "video.createComment", owner_id=owner, video_id=thing, message=part, **answer_to, **as_community
                )
                ids.append(str(result))
            else:
                result = await client.call(
                    "board.createComment", group_id=abs(owner), topic_id=thing, message=part, from_group=1
                )
                ids.append(str(result))
        return ids
