import json

import pytest

from channels.base import PLATFORM_ID_MAX, WebhookRejected, WebhookRequest
from channels.rest import RestChannel


def request(body: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", headers={}, query={}, body=body)


def parse(body: bytes):
    return RestChannel(max_text_chars=100).parse(request(body))


def test_a_rasa_rest_message_is_parsed():
    (message,) = parse(json.dumps({"sender": "alice", "message": "hi", "message_id": "m1"}).encode())
    assert (message.channel, message.sender_id, message.text, message.message_id) == ("rest", "alice", "hi",
                                                                                      "alice:m1")


def message_id(sender: str, client_id) -> str:
    return parse(json.dumps({"sender": sender, "message": "hi", "message_id": client_id}).encode())[0].message_id


def test_a_client_message_id_is_scoped_to_its_sender():
    # The inbox's key is (channel, message id): unscoped, bob's "1" would be alice's "1".
    assert message_id("alice", "1") == message_id("alice", "1") == message_id("alice", 1)
    assert message_id("alice", "1") != message_id("bob", "1")


def test_senders_with_colons_cannot_be_confused_with_ids_with_colons():
    assert message_id("a:b", "c") != message_id("a", "b:c")
    assert message_id("a%3Ab", "c") != message_id("a:b", "c")


def test_a_scoped_id_too_long_for_the_column_is_hashed_and_still_scoped():
    long_id = "x" * 300
    first, again, other = message_id("alice", long_id), message_id("alice", long_id), message_id("bob", long_id)
    assert first == again != other
    assert all(len(i) <= PLATFORM_ID_MAX for i in (first, other))
    assert message_id("alice", "x" * (PLATFORM_ID_MAX - len("alice:"))) == "alice:" + "x" * 249


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


# -- JSON that Python's decoder reads badly (found by `make fuzz`): a 400, never a 500 ----------

@pytest.mark.parametrize("body, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"sender": "a", "message": "hi", "message_id": ' + b"7" * 5000 + b"}", "number in the JSON is too long"),
    (b'{"sender": "a", "message": "hi", "metadata": {"x": NaN}}', "NaN is not JSON"),
    (b'{"sender": "a", "message": "hi", "metadata": {"x": 1e999}}', "out of range"),
])
def test_json_python_reads_badly_is_rejected_with_a_reason(body, reason):
    with pytest.raises(WebhookRejected) as rejected:
        parse(body)
    assert rejected.value.status == 400 and reason in rejected.value.reason


def test_an_unpaired_surrogate_is_replaced_and_the_message_kept():
    (message,) = parse(b'{"sender": "a\\udc00", "message": "hi \\ud800 there \\ud83d\\ude00"}')
    assert (message.sender_id, message.text) == ("a\ufffd", "hi \ufffd there \U0001F600")
    message.text.encode("utf-8")  # what the database and the logs need
def typed(body: bytes, content_type: str):
    return RestChannel(max_text_chars=100).parse(
        WebhookRequest(method="POST", headers={"Content-Type": content_type}, query={}, body=body))


@pytest.mark.parametrize("body, content_type", [
    (b"sender=alice&message=hi", "application/x-www-form-urlencoded"),
    (b"hi there", "text/plain; charset=utf-8"),
    (b"--x\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--x--", "multipart/form-data; boundary=x"),
])
def test_a_body_that_is_not_json_declared_as_another_type_gets_415_saying_what_to_send(body, content_type):
    with pytest.raises(WebhookRejected) as rejected:
        typed(body, content_type)
    assert rejected.value.status == 415
    assert "expects a JSON body (Content-Type: application/json)" in rejected.value.reason
    assert content_type.split(";")[0] in rejected.value.reason


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/vnd.api+json"])
def test_malformed_json_declared_as_json_keeps_its_400(content_type):
    with pytest.raises(WebhookRejected) as rejected:
        typed(b"{not json", content_type)
    assert (rejected.value.status, "malformed JSON" in rejected.value.reason) == (400, True)


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded",  # `curl -d '{...}'` without -H
    "text/plain;charset=UTF-8",  # a browser's fetch() with a string body and no headers
])
def test_json_sent_with_another_type_is_accepted_as_rasa_does(content_type):
    (message,) = typed(b'{"sender": "alice", "message": "hi"}', content_type)
    assert (message.sender_id, message.text) == ("alice", "hi")
