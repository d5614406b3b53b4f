import json

import pytest

from channels.base import WebhookRejected, WebhookRequest
from channels.rest import RestChannel


def request(body: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={}, query={}, body=body)


def parse(body: bytes):
    return RestChannel(max_text_chars=100).parse(request(body))


def test_a_rasa_rest_message_is_parsed():
    (message,) = parse(json.dumps({"sender": "alice", "message": "hi", "message_id": "m1"}).encode())
    assert (message.channel, message.sender_id, message.text, message.message_id) == ("rest", "alice", "hi", "m1")


def test_without_a_message_id_each_request_is_new():
    first = parse(b'{"sender": "a", "message": "hi"}')[0]
    second = parse(b'{"sender": "a", "message": "hi"}')[0]
    assert first.message_id != second.message_id


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "malformed JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2]", "JSON object"),
    (b'{"message": "hi"}', "missing field(s): sender"),
    (b'{"sender": "a"}', "missing field(s): message"),
    (b'{"sender": "a", "message": "   "}', "empty"),
    (b'{"sender": "", "message": "hi"}', "sender"),
    (b'{"sender": "a", "message": 5}', "string"),
    (json.dumps({"sender": "a", "message": "x" * 101}).encode(), "longer than 100"),
])
def test_bad_input_is_rejected_with_a_reason(body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        parse(body)
    assert rejected.value.status == 400
    assert reason in rejected.value.reason
