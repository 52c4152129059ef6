"""VK events become platform-neutral citizen messages; what carries none is recognised as such."""

from __future__ import annotations

from bot.vk.parse import Change, comment_message, event_message, plain_text
from handlers.types import SourceRef
from tests.bot.vk.events import GROUP, envelope, message_new, wall_reply


def test_wall_comment() -> None:
    message = event_message(wall_reply("Яма у дома [id5|Петра], 🚧", from_id=1001), names={1001: "Анна Котова"})
    assert message is not None and not isinstance(message, Change)
    assert message.text == "Яма у дома Петра, 🚧"
    assert message.source.external_id == str(GROUP) and message.source.kind == "vk_community"
    assert message.external_id == f"wall-{GROUP}_55" and message.thread_id == f"wall-{GROUP}_10"
    assert message.chat_id == f"wall-{GROUP}_10" and message.message_id == "55"
    assert message.author.name == "Анна Котова" and message.author.profile_url == "https://vk.com/id1001"
    assert message.permalink == f"https://vk.com/wall-{GROUP}_10?reply=55"


def test_comments_by_communities_are_not_citizens() -> None:
    assert event_message(wall_reply("Ответ администрации", from_id=-GROUP), names={}) is None


def test_community_message_and_attachments_without_text() -> None:
    photo = {"type": "photo", "photo": {"id": 9, "owner_id": 1001}}
    message = event_message(message_new("", attachments=[photo]), names={})
    assert message is not None and not isinstance(message, Change)
    assert message.text == "" and message.attachments[0].kind == "photo"
    assert message.chat_id == "peer1001" and message.external_id == "msg300"
    assert message.permalink == f"https://vk.com/gim{GROUP}?sel=1001"


def test_edits_deletes_and_other_kinds() -> None:
    edit = event_message(envelope("wall_reply_edit", {"id": 55, "owner_id": -GROUP, "text": "новый"}), names={})
    assert edit == Change(external_id=f"wall-{GROUP}_55", text="новый")
    delete = event_message(envelope("wall_reply_delete", {"id": 55, "owner_id": -GROUP, "deleter_id": 1}), names={})
    assert delete == Change(external_id=f"wall-{GROUP}_55", text=None)
    photo = event_message(
        envelope("photo_comment_new", {"id": 3, "from_id": 1001, "date": 0, "text": "x", "photo_owner_id": -GROUP,
                                       "photo_id": 8}), names={})  # fmt: skip
    assert photo is not None and not isinstance(photo, Change) and photo.chat_id == f"photo-{GROUP}_8"
    topic = event_message(
        envelope("board_post_new", {"id": 4, "from_id": 1001, "date": 0, "text": "x", "topic_owner_id": -GROUP,
                                    "topic_id": 2}), names={})  # fmt: skip
    assert topic is not None and not isinstance(topic, Change) and topic.chat_id == f"topic-{GROUP}_2"
    suggested = event_message(
        envelope("wall_post_new", {"id": 70, "owner_id": -GROUP, "from_id": 1001, "date": 0, "text": "Предлагаю",
                                   "post_type": "suggest"}), names={})  # fmt: skip
    assert suggested is not None and not isinstance(suggested, Change) and suggested.chat_id == "peer1001"
    assert (
        event_message(envelope("wall_post_new", {"id": 71, "owner_id": -GROUP, "post_type": "post"}), names={}) is None
    )
    assert event_message(envelope("group_join", {"user_id": 1}), names={}) is None


def test_mention_markup() -> None:
    assert plain_text("[club1|Администрация], [id2|Иван], [public3|Паблик]") == "Администрация, Иван, Паблик"
    assert plain_text("[не ссылка]") == "[не ссылка]"


def test_the_page_owner_answering_on_their_wall_is_not_a_citizen() -> None:
    page = SourceRef(platform="vk", kind="vk_user_page", external_id="42")
    own = {"id": 9, "from_id": 42, "date": 0, "text": "Ответ главы"}
    assert comment_message(page, own, owner_id=42, post_id=1, names={}) is None
    other = {"id": 10, "from_id": 1001, "date": 0, "text": "Вопрос"}
    assert comment_message(page, other, owner_id=42, post_id=1, names={}) is not None
