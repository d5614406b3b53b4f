"""Facebook: Messenger conversations and comments on the page's posts, on one webhook.

Meta calls one URL per object type, and Rasa names its Messenger connector "facebook", so
`/webhooks/facebook/webhook` receives object "page": Messenger events in
`entry[].messaging[]` (parsed in channels/meta_messaging.py, shared with Instagram) and the
page feed in `entry[].changes[]`. A new comment by a customer is a public message; the
page's own comments, edits, removals, likes and reactions are not questions.
"""

from __future__ import annotations

from bot.bus import Bus
from bot.http import HttpClient
from bot.messages import Attachment, IncomingMessage
from bot.settings import Settings
from channels.meta_messaging import Entry, MetaChannel, Parsed, Platform, obj
from channels.untrusted_json import name

NAME = "facebook"


def _feed(value: dict, entry: Entry) -> list[Parsed]:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return []  # edits, removals, hides, likes, reactions and posts are not answered
    author = obj(value.get("from"))
    sender, comment = str(author.get("id") or ""), str(value.get("comment_id") or "")
    if not sender or not comment or sender in entry.own_ids:
        return []  # the page's own comments (its replies included)
    photo = value.get("photo")
    return [IncomingMessage(
        channel=entry.channel, sender_id=sender, text=str(value.get("message") or "").strip(), message_id=comment,
        sender_name=name(author.get("name")), attachments=(Attachment("image", str(photo)),) if photo else (),
        is_public=True, thread_id=comment,
        metadata={"post_id": str(value["post_id"])} if value.get("post_id") else {},
    )]


PLATFORM = Platform(
    name=NAME, webhook_object="page", changes={"feed": _feed}, comment_reply_edge="comments",
    hide_body={"is_hidden": True}, account_setting="META_PAGE_ID", public_limit=8000,
)


def build(settings: Settings, http: HttpClient, bus: Bus) -> MetaChannel:
    return MetaChannel(PLATFORM, settings, http)
