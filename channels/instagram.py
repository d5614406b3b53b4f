"""Instagram: DMs and comments on the account's media, on `/webhooks/instagram/webhook`.

The webhook's object is "instagram": DMs are Messenger-shaped `entry[].messaging[]` events
(parsed in channels/meta_messaging.py, shared with Facebook; echoes of our own sends,
reactions and unsent messages are recognised and never answered), comments are
`entry[].changes[]` of field "comments". The account's own comments are ignored.
"""

from __future__ import annotations

from bot.bus import Bus
from bot.http import HttpClient
from bot.messages import IncomingMessage
from bot.settings import Settings
from channels.meta_messaging import Entry, MetaChannel, Parsed, Platform, obj
from channels.untrusted_json import name

NAME = "instagram"


def _comment(value: dict, entry: Entry) -> list[Parsed]:
    author = obj(value.get("from"))
    sender, comment = str(author.get("id") or ""), str(value.get("id") or "")
    if not sender or not comment or sender in entry.own_ids:
        return []  # the account's own comments and replies
    username, media = author.get("username"), obj(value.get("media"))
    metadata = {key: str(found) for key, found in (("username", username), ("media_id", media.get("id"))) if found}
    return [IncomingMessage(
        channel=entry.channel, sender_id=sender, text=str(value.get("text") or "").strip(), message_id=comment,
        sender_name=name(username), is_public=True, thread_id=comment, metadata=metadata,
    )]


PLATFORM = Platform(
    name=NAME, webhook_object="instagram", changes={"comments": _comment}, comment_reply_edge="replies",
    hide_body={"hide": True}, account_setting="INSTAGRAM_ACCOUNT_ID", public_limit=2200,
)


def build(settings: Settings, http: HttpClient, bus: Bus) -> MetaChannel:
    return MetaChannel(PLATFORM, settings, http)
