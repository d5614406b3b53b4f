from bot.messages import Button, IncomingMessage, OutgoingMessage
from bot.moderation import assess
from bot.public import PRIVATE_COMPLAINT, PUBLIC_COMPLAINT, PUBLIC_ROUTINE, shape


def comment(text="how much is shipping?") -> IncomingMessage:
    return IncomingMessage(channel="facebook_comments", sender_id="u1", text=text, message_id="c1",
                           is_public=True, thread_id="post_1_c1")


def reply(text, buttons=()) -> OutgoingMessage:
    return OutgoingMessage(channel="facebook_comments", recipient_id="u1", text=text, buttons=buttons)


def test_a_routine_public_question_gets_a_short_public_line_and_one_private_answer():
    shaped = shape(comment(), [reply("Shipping is free over $50."), reply("Anything else?", (Button("No", "/deny"),))],
                   handed_over=False)
    public, private = shaped
    assert public.is_public and public.text == PUBLIC_ROUTINE and public.thread_id == "post_1_c1"
    assert not private.is_public and private.text == "Shipping is free over $50.\n\nAnything else?"
    assert private.custom == {"private_reply": True} and private.buttons == (Button("No", "/deny"),)


def test_a_public_complaint_is_acknowledged_with_empathy_and_taken_private():
    public, private = shape(comment("worst shop ever"), [reply("I'm connecting you...")], handed_over=True)
    assert public.text == PUBLIC_COMPLAINT and private.text == PRIVATE_COMPLAINT


def test_private_messages_are_left_as_they_are():
    message = IncomingMessage(channel="messenger", sender_id="u", text="hi", message_id="m")
    replies = [reply("Hello!")]
    assert shape(message, replies, handed_over=False) is replies


def test_abuse_and_spam_are_flagged_and_questions_are_not():
    assert assess("you are all idiots").reason == "abuse"
    assert assess("FREE FOLLOWERS click here http://a.xyz http://b.top").reason == "spam"
    assert not assess("Is the blue jacket back in stock?").flagged
    assert not assess("My parcel arrived broken, this is really disappointing").flagged
