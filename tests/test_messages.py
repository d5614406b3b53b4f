from bot.messages import Attachment, Button, IncomingMessage, OutgoingMessage


def test_incoming_round_trips_through_json():
    message = IncomingMessage(channel="messenger", sender_id="42", text="hi 👋", message_id="m.1",
                              attachments=(Attachment("image", "https://example.invalid/a.png"),),
                              is_public=True, thread_id="c1", metadata={"page": "p"})
    assert IncomingMessage.from_json(message.to_json()) == message
    assert message.conversation_key == "messenger:42"


def test_outgoing_round_trips_and_answers_in_rasa_rest_shape():
    reply = OutgoingMessage(channel="rest", recipient_id="alice", text="Pick one",
                            buttons=(Button("Track my order", "/order_status"),))
    assert OutgoingMessage.from_json(reply.to_json()) == reply
    assert reply.as_rasa_response() == {
        "recipient_id": "alice", "text": "Pick one",
        "buttons": [{"title": "Track my order", "payload": "/order_status"}],
    }


def test_an_image_reply_has_no_text_key():
    assert OutgoingMessage(channel="rest", recipient_id="a", image="/static/x.png").as_rasa_response() == {
        "recipient_id": "a", "image": "/static/x.png"}
