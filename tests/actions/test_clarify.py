from rasa_sdk import Tracker

from actions.clarify import CLARIFY_FLOOR, candidate_topics, just_asked, topic_title


def ranking(**scores: float) -> list[dict]:
    return [{"name": name, "confidence": c} for name, c in scores.items()]


def test_the_two_most_likely_topics_are_offered_small_talk_never():
    assert candidate_topics(ranking(nlu_fallback=0.6, greet=0.5, order_status=0.4, shipping_time=0.3,
                                    refund_status=0.2)) == ["order_status", "shipping_time"]


def test_a_weak_second_topic_is_left_out_and_nothing_near_means_none():
    assert candidate_topics(ranking(payment_methods=0.46, product_availability=0.11)) == ["payment_methods"]
    assert candidate_topics(ranking(out_of_scope=0.5, promo_code=CLARIFY_FLOOR - 0.01)) == []


def tracker(*events: dict) -> Tracker:
    return Tracker("s", {}, {}, list(events), False, None, {}, "action_listen")


def test_a_second_unsure_message_right_after_the_question_is_not_asked_again():
    asked = [{"event": "action", "name": "action_clarify"}, {"event": "bot", "text": "?"},
             {"event": "action", "name": "action_listen"}, {"event": "user", "text": "hmm"}]
    assert just_asked(tracker(*asked))
    answered = [{"event": "action", "name": "utter_greet"}, {"event": "action", "name": "action_listen"},
                {"event": "user", "text": "hmm"}]
    assert not just_asked(tracker(*answered)) and not just_asked(tracker())


def test_titles_come_from_the_domain_or_the_intent_name():
    domain = {"responses": {"utter_topic_promo_code": [{"text": "Promo codes"}]}}
    assert topic_title(domain, "promo_code") == "Promo codes"
    assert topic_title(domain, "gift_cards") == "Gift cards"


async def run_clarify(ranking_: list[dict]) -> list[dict]:
    from rasa_sdk.executor import CollectingDispatcher

    from actions.clarify import ActionClarify

    dispatcher = CollectingDispatcher()
    latest = {"text": "x", "intent": {"name": "nlu_fallback"}, "intent_ranking": ranking_}
    await ActionClarify().run(dispatcher, Tracker("s", {}, latest, [], False, None, {}, "action_listen"), {})
    return dispatcher.messages


async def test_an_unsure_request_for_a_person_or_complaint_is_handed_over_without_a_question():
    messages = await run_clarify(ranking(nlu_fallback=0.6, complaint=0.41, request_human=0.27, exchange_size=0.23))
    assert [m["response"] for m in messages if m.get("response")] == ["utter_handoff"]
    assert {"handoff": {"reason": "complaint"}} in [m.get("custom") for m in messages]


async def test_an_unsure_topic_gets_the_question_with_buttons():
    messages = await run_clarify(ranking(nlu_fallback=0.6, payment_methods=0.46, out_of_scope=0.1))
    (question,) = messages
    assert question["response"] == "utter_clarify_one" and question["first"] == "Payment methods"
    assert [b["payload"] for b in question["buttons"]] == ["/payment_methods", "/out_of_scope"]
