"""A customer talks to the running service over Rasa's REST contract, on both backends."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import aiohttp
import pytest

from actions.orders import DEMO_ORDERS
from bot.settings import Settings
from tests.support.client import cli, cli_json, is_response, new_sender, say
from tests.support.tracker import Tracker

pytestmark = pytest.mark.slow


def texts(replies: list[dict]) -> list[str]:
    return [r.get("text", "") for r in replies]


def db_url(service) -> str:
    return service.env["DATABASE_URL"]


async def test_a_routine_question_is_answered_in_rasa_rest_shape(service):
    sender = new_sender()
    replies = await say(service.url, sender, "what are your opening hours?")
    assert replies and all(r["recipient_id"] == sender for r in replies)
    assert any(is_response(t, "utter_opening_hours") for t in texts(replies))


async def test_rasa_knows_a_rest_sender_by_the_id_the_client_sent(service):
    """As under `rasa run`: trackers, actions and event consumers see the client's id."""
    sender = new_sender()
    await say(service.url, sender, "what are your opening hours?")
    tracker = Tracker(Settings.from_mapping({"DATABASE_URL": db_url(service)}).sync_database_url)
    ids = {row[0] for row in tracker.run("SELECT DISTINCT sender_id FROM events")}
    assert sender in ids and f"rest:{sender}" not in ids


async def test_a_greeting_offers_buttons(service):
    replies = await say(service.url, new_sender(), "hello there")
    buttons = [b for r in replies for b in r.get("buttons", [])]
    assert buttons and all(set(b) == {"title", "payload"} for b in buttons)


@pytest.mark.parametrize("text, answer", [
    ("how long does shipping take to texas", "utter_international_shipping"),
    ("how much is delivery to Germany?", "utter_international_shipping"),
    ("how long does delivery take", "utter_shipping_time"),
    ("how long does delivery to northern ireland take", "utter_shipping_time"),
])
async def test_a_place_abroad_in_a_delivery_question_gets_the_international_answer(service, text, answer):
    assert any(is_response(t, answer) for t in texts(await say(service.url, new_sender(), text)))


async def test_order_status_goes_through_the_custom_action(service):
    sender = new_sender()
    order = next(o for o in DEMO_ORDERS if o.status == "shipped")
    asked = await say(service.url, sender, "where is my order?")
    assert any(is_response(t, "utter_ask_order_number") for t in texts(asked))
    proof = texts(await say(service.url, sender, order.number))
    # The number alone tells nothing about the order: it asks for a proof first.
    assert any(is_response(t, "utter_ask_order_proof") for t in proof)
    assert order.carrier not in " ".join(proof) and order.items not in " ".join(proof)
    answer = " ".join(texts(await say(service.url, sender, f"it's {order.email.upper()}")))
    assert order.number in answer and order.carrier in answer and order.tracking_code in answer


async def test_the_postcode_on_the_order_is_proof_too(service):
    sender = new_sender()
    order = next(o for o in DEMO_ORDERS if o.status == "delivered")
    await say(service.url, sender, f"can you check order {order.number} for me")
    answer = " ".join(texts(await say(service.url, sender, order.postcode.lower().replace(" ", ""))))
    assert order.number in answer and order.items in answer


async def test_a_late_order_gets_an_apology_and_a_person_never_a_date_already_past(service):
    sender = new_sender()
    order = next(o for o in DEMO_ORDERS if o.status == "shipped" and o.expected_delivery < date.today())
    await say(service.url, sender, f"where is order {order.number}")
    answer = " ".join(texts(await say(service.url, sender, order.email)))
    assert "should have arrived" in answer and "Good news" not in answer and order.tracking_code in answer
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[sender]["reason"] == "late_delivery"


def _secrets(order) -> list[str]:
    return [s for s in (order.items, order.carrier, order.tracking_code) if s]


async def test_a_wrong_proof_tells_nothing_and_asks_again(service):
    sender = new_sender()
    order = next(o for o in DEMO_ORDERS if o.status == "shipped")
    await say(service.url, sender, f"where is order {order.number}")
    wrong = texts(await say(service.url, sender, "someone.else@example.com"))
    said = " ".join(wrong)
    assert "doesn't match" in said and not any(secret in said for secret in _secrets(order))
    assert any(is_response(t, "utter_ask_order_proof") for t in wrong)
    # The right one still works within the tries allowed.
    answer = " ".join(texts(await say(service.url, sender, order.email)))
    assert order.tracking_code in answer


async def test_too_many_wrong_proofs_hand_over_to_a_person(service):
    sender = new_sender()
    order = next(o for o in DEMO_ORDERS if o.status == "shipped")
    await say(service.url, sender, f"where is order {order.number}")
    await say(service.url, sender, "AB1 2CD")
    await say(service.url, sender, "guess@example.com")
    last = texts(await say(service.url, sender, "ZZ9 9ZZ"))
    said = " ".join(last)
    assert "member of our team" in said and not any(secret in said for secret in _secrets(order))
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[sender]["reason"] == "order_verification_failed" and queue[sender]["status"] == "queued"
    # Handed over: the right proof now gets no answer from the bot.
    assert await say(service.url, sender, order.email) == []


async def test_an_unknown_order_number_is_answered_as_a_wrong_proof(service):
    unknown, known = new_sender(), new_sender()
    order = DEMO_ORDERS[0]
    first = texts(await say(service.url, unknown, "can you check order 999999 for me"))
    assert any(is_response(t, "utter_ask_order_proof") for t in first)
    unknown_said = texts(await say(service.url, unknown, order.email))
    await say(service.url, known, f"can you check order {order.number} for me")
    known_said = texts(await say(service.url, known, "nobody@example.com"))
    # The same words, but for the number: nobody learns which numbers are orders.
    assert [t.replace("999999", "N") for t in unknown_said] == \
        [t.replace(order.number, "N") for t in known_said]
    assert "doesn't match" in " ".join(unknown_said)


@pytest.mark.parametrize("text, reason", [
    ("I want to talk to a human", "customer_request"),
    ("this is the worst service ever, my parcel arrived broken and nobody answers", "complaint"),
])
async def test_handoff_and_the_bot_is_silent_afterwards(service, text, reason):
    sender = new_sender()
    replies = await say(service.url, sender, text)
    assert any(is_response(t, "utter_handoff") for t in texts(replies))
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[sender]["reason"] == reason and queue[sender]["status"] == "queued"

    assert await say(service.url, sender, "hello? anyone there?") == []
    transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
    (conversation,) = transcript["conversations"]
    assert conversation["messages"][-1]["text"] == "hello? anyone there?"
    assert conversation["messages"][-1]["author"] == "customer"


async def test_a_message_the_model_cannot_place_falls_back_to_a_person(service):
    sender = new_sender()
    replies = await say(service.url, sender, "blorp zindle quaxx frobnicate")
    assert any(is_response(t, "utter_handoff") for t in texts(replies))
    transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
    (conversation,) = transcript["conversations"]
    (customer,) = [m for m in conversation["messages"] if m["author"] == "customer"]
    assert customer["intent"] == "nlu_fallback"  # FallbackClassifier: no intent above the threshold
    # Recorded with the model's best real score, not the threshold the fallback is given.
    assert 0 < customer["confidence"] < 0.6
    assert conversation["status"] == "queued" and conversation["handoff_reason"] == "out_of_scope"


async def test_an_unsure_guess_becomes_a_question_with_buttons_and_a_press_answers_it(service):
    sender = new_sender()
    asked = await say(service.url, sender, "do you sell gift cards")
    (question,) = [r for r in asked if r.get("buttons")]
    assert "Just to be sure" in question["text"] and '"Ways to pay"' in question["text"]
    assert {"title": "Ways to pay", "payload": "/payment_methods"} in question["buttons"]
    assert question["buttons"][-1] == {"title": "Something else", "payload": "/out_of_scope"}
    # Nothing was answered as if certain, and nobody was handed the conversation.
    assert not any(is_response(t, "utter_payment_methods") or is_response(t, "utter_handoff") for t in texts(asked))
    answered = texts(await say(service.url, sender, "/payment_methods"))
    assert any(is_response(t, "utter_payment_methods") for t in answered)
    transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
    assert transcript["conversations"][0]["status"] == "bot"


async def test_two_close_topics_are_both_offered(service):
    asked = await say(service.url, new_sender(), "my package says delivered but i never got it")
    (question,) = [r for r in asked if r.get("buttons")]
    assert [b["payload"] for b in question["buttons"]] == ["/order_status", "/shipping_time", "/out_of_scope"]
    assert question["text"].count('"') == 4  # "A" or "B"


@pytest.mark.parametrize("second", ["/out_of_scope", "something about a gift for my aunt"])
async def test_something_else_or_still_unsure_hands_over(service, second):
    sender = new_sender()
    await say(service.url, sender, "do you sell gift cards")
    replies = texts(await say(service.url, sender, second))
    assert any(is_response(t, "utter_handoff") for t in replies)
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[sender]["reason"] == "out_of_scope"


@pytest.mark.parametrize("then, reason", [("yes please", "customer_request"),
                                          ("tell me a joke then", "out_of_scope")])
async def test_small_talk_hears_what_the_bot_does_and_a_yes_or_a_repeat_hands_over(service, then, reason):
    sender = new_sender()
    (offer,) = await say(service.url, sender, "what's the capital of france")
    assert is_response(offer["text"], "utter_out_of_scope")
    assert [b["payload"] for b in offer["buttons"]] == ["/request_human", "/deny"]
    assert sender not in {row["customer"] for row in cli_json(db_url(service), "queue")}
    assert any(is_response(t, "utter_handoff") for t in texts(await say(service.url, sender, then)))
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[sender]["reason"] == reason


async def test_no_thanks_to_the_offer_keeps_the_bot(service):
    sender = new_sender()
    await say(service.url, sender, "what's the weather like tomorrow")
    assert not any(is_response(t, "utter_handoff") for t in texts(await say(service.url, sender, "/deny")))
    assert any(is_response(t, "utter_opening_hours")
               for t in texts(await say(service.url, sender, "what are your opening hours?")))


async def test_a_refund_weeks_late_gets_an_apology_and_a_person_not_the_policy(service):
    late, asking = new_sender(), new_sender()
    replies = texts(await say(service.url, late, "my refund is 3 weeks late and you said 3 days"))
    assert any(is_response(t, "utter_refund_overdue") for t in replies)
    assert not any(is_response(t, "utter_refund_status") for t in replies)
    queue = {row["customer"]: row for row in cli_json(db_url(service), "queue")}
    assert queue[late]["reason"] == "complaint"
    policy = texts(await say(service.url, asking, "when will i get my money back"))
    assert any(is_response(t, "utter_refund_status") for t in policy)


@pytest.mark.parametrize("text", ["asdfgh", "jkjkjkjkjk", "aaaaaaaaaaaaaaaaaaaa"])
async def test_keyboard_mashing_is_asked_to_rephrase_never_answered(service, text):
    sender = new_sender()
    (reply,) = texts(await say(service.url, sender, text))
    assert "other words" in reply
    # Still the bot's: a real question now gets its answer.
    assert any(is_response(t, "utter_opening_hours") for t in texts(await say(service.url, sender,
                                                                              "what are your opening hours?")))


async def test_a_waiting_customer_who_writes_again_upset_moves_up_the_queue(service):
    sender = new_sender()
    await say(service.url, sender, "I want to talk to a human")
    before = {row["customer"]: row for row in cli_json(db_url(service), "queue")}[sender]["priority"]
    assert await say(service.url, sender, "this is awful, I am furious, terrible terrible service!!") == []
    after = {row["customer"]: row for row in cli_json(db_url(service), "queue")}[sender]["priority"]
    assert after > before


async def test_handback_returns_the_conversation_to_the_bot(service):
    sender = new_sender()
    await say(service.url, sender, "can I speak to a real person please")
    (row,) = [r for r in cli_json(db_url(service), "queue") if r["customer"] == sender]
    result = cli(db_url(service), "handback", str(row["conversation"]))
    assert result.returncode == 0, result.stderr
    assert any(is_response(t, "utter_opening_hours") for t in texts(await say(service.url, sender, "when are you open?")))


async def test_a_duplicate_message_id_is_answered_once(service):
    sender = new_sender()
    first, second = await asyncio.gather(
        say(service.url, sender, "do you ship internationally?", message_id="dup-1"),
        say(service.url, sender, "do you ship internationally?", message_id="dup-1"),
    )
    third = await say(service.url, sender, "do you ship internationally?", message_id="dup-1")
    assert first and first == second == third
    transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
    messages = transcript["conversations"][0]["messages"]
    assert [m["author"] for m in messages].count("customer") == 1
    assert len([m for m in messages if m["author"] == "bot"]) == len(first)


async def test_two_senders_reusing_a_message_id_each_get_their_own_answer(service):
    # Clients number their own messages, so ids collide across customers: each must still be
    # a new message of its own sender, not a retry of the other's.
    alice, bob = new_sender(), new_sender()
    shared = f"m-{uuid.uuid4().hex[:8]}"
    hours = await say(service.url, alice, "what are your opening hours?", message_id=shared)
    returns = await say(service.url, bob, "how do I return an item?", message_id=shared)
    assert any(is_response(t, "utter_opening_hours") for t in texts(hours))
    assert all(r["recipient_id"] == alice for r in hours)
    assert any(is_response(t, "utter_returns_policy") for t in texts(returns))
    assert all(r["recipient_id"] == bob for r in returns)
    assert not set(texts(hours)) & set(texts(returns))
    # Each retry is still answered once, with its own sender's replies.
    assert await say(service.url, bob, "how do I return an item?", message_id=shared) == returns
    assert await say(service.url, alice, "what are your opening hours?", message_id=shared) == hours
    for sender, question in ((alice, "what are your opening hours?"), (bob, "how do I return an item?")):
        transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
        customer = [m["text"] for c in transcript["conversations"] for m in c["messages"] if m["author"] == "customer"]
        assert customer == [question]


async def test_the_history_records_intents_actions_and_handoff(service):
    sender = new_sender()
    await say(service.url, sender, "hi")
    await say(service.url, sender, "how much is shipping?")
    await say(service.url, sender, "let me talk to an agent")
    transcript = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)
    (conversation,) = transcript["conversations"]
    customer = [m for m in conversation["messages"] if m["author"] == "customer"]
    assert [m["intent"] for m in customer] == ["greet", "shipping_cost", "request_human"]
    assert all(0 < m["confidence"] <= 1 and m["created_at"] for m in customer)
    kinds = [e["kind"] for e in conversation["events"]]
    assert kinds.count("nlu") == 3 and "actions" in kinds and "handoff" in kinds
    actions = [a for e in conversation["events"] if e["kind"] == "actions" for a in e["data"]["actions"]]
    assert "action_handoff" in actions
    bot = [m for m in conversation["messages"] if m["author"] == "bot"]
    assert bot and all(m["delivery_status"] == "sent" for m in bot)
    text = cli(db_url(service), "transcript", "--channel", "rest", "--sender", sender).stdout
    assert "Customer: how much is shipping?" in text and "handed to a person: customer_request" in text


@pytest.mark.parametrize("body, status, reason", [
    (b"{oops", 400, "malformed JSON"),
    (b'{"sender": "x"}', 400, "missing"),
    (b'{"sender": "x", "message": ""}', 400, "empty"),
    (b'{"sender": "x", "message": "caf\xe9"}', 400, "UTF-8"),
    (b"x" * (1024 * 1024), 413, "larger than"),
], ids=["malformed", "missing-field", "empty-text", "not-utf8", "one-megabyte"])
async def test_bad_input_gets_a_clear_4xx_and_the_service_keeps_running(service, body, status, reason):
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.url}/webhooks/rest/webhook", data=body,
                             headers={"Content-Type": "application/json"}) as response:
            assert response.status == status
            assert reason in (await response.json())["error"]
    assert service.health()["status"] == "ok"


@pytest.mark.parametrize("text", ["👍", "🙂🙂🙂"])
async def test_emoji_only_gets_a_polite_reply(service, text):
    (reply,) = await say(service.url, new_sender(), text)
    assert "help" in reply["text"]


async def test_a_customer_writing_spanish_is_handed_over_and_told_so_in_spanish(service):
    sender = new_sender()
    replies = texts(await say(service.url, sender, "hola, necesito ayuda con mi pedido por favor"))
    assert replies[0].startswith("¡Gracias por tu mensaje!")
    # The wait or the team's hours, in Spanish too (bot/phrases.yml).
    assert any(phrase in replies[-1] for phrase in ("La espera habitual", "Alguien te atenderá",
                                                    "nuestro equipo no está"))
    assert await say(service.url, sender, "gracias") == []  # a person has it now
    (conversation,) = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)["conversations"]
    assert conversation["status"] == "queued" and conversation["handoff_reason"] == "other_language"
    assert conversation["language"] == "es"
    assert any(e["kind"] == "language" and e["data"]["language"] == "es" for e in conversation["events"])


async def test_a_language_with_no_phrases_of_its_own_is_handed_over_in_the_bots(service):
    sender = new_sender()
    replies = texts(await say(service.url, sender, "bonjour, je voudrais retourner un article"))
    assert replies[0].startswith("Thanks for your message!")
    (conversation,) = cli_json(db_url(service), "transcript", "--channel", "rest", "--sender", sender)["conversations"]
    assert conversation["handoff_reason"] == "other_language" and conversation["language"] == "fr"


async def test_health_names_the_loaded_model(service):
    health = service.health()
    assert health["status"] == "ok" and health["model"].endswith(".tar.gz") and health["database"] == "ok"
    assert {"rest", "webchat"} <= set(health["channels"])
