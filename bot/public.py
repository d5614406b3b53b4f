"""Answering in public: the bot never argues where everyone reads.

A comment or mention gets one short public line, and the real answer goes privately
(platforms allow one private reply per comment, so the bot's replies are merged into
one). A complaint gets an empathetic public acknowledgement and a private message, and
the conversation is already on its way to a person.
"""

from __future__ import annotations

from bot.messages import IncomingMessage, OutgoingMessage

PUBLIC_ROUTINE = "Thanks for asking! We've sent you the details in a private message. 💬"
PUBLIC_COMPLAINT = ("We're really sorry to hear this. We've sent you a private message so we can "
                    "put it right.")
PRIVATE_COMPLAINT = ("Hi, thanks for reaching out, and I'm sorry about your experience. A member of "
                     "our team will continue with you here shortly.")


def shape(message: IncomingMessage, replies: list[OutgoingMessage], handed_over: bool) -> list[OutgoingMessage]:
    if not message.is_public:
        return replies
    base = dict(channel=message.channel, recipient_id=message.sender_id, thread_id=message.thread_id)
    if handed_over:
        public, private_text, buttons = PUBLIC_COMPLAINT, PRIVATE_COMPLAINT, ()
    else:
        public = PUBLIC_ROUTINE
        private_text = "\n\n".join(r.text for r in replies if r.text)
        buttons = next((r.buttons for r in reversed(replies) if r.buttons), ())
    shaped = [OutgoingMessage(text=public, is_public=True, **base)]
    if private_text:
        shaped.append(OutgoingMessage(text=private_text, buttons=buttons, is_public=False,
                                      custom={"private_reply": True}, **base))
    return shaped
