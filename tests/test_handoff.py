import pytest

from bot.handoff import TransitionError, check_transition, decide, priority


def test_priority_orders_public_before_negative_before_plain():
    public = priority(reason="complaint", is_public=True, sentiment=0.0, negative_threshold=-0.6)
    negative = priority(reason="complaint", is_public=False, sentiment=-0.8, negative_threshold=-0.6)
    plain = priority(reason="customer_request", is_public=False, sentiment=0.1, negative_threshold=-0.6)
    assert public > negative > plain


def test_the_models_request_is_taken_with_its_reason():
    handoff = decide(requested_reason="customer_request", is_public=False, sentiment=0.0,
                     negative_threshold=-0.6, intent="request_human")
    assert handoff is not None and handoff.reason == "customer_request"


def test_strong_negative_sentiment_hands_over_even_when_the_model_would_answer():
    handoff = decide(requested_reason=None, is_public=False, sentiment=-0.85, negative_threshold=-0.6,
                     intent="order_status")
    assert handoff is not None and handoff.reason == "negative_sentiment"


def test_a_public_complaint_is_never_left_to_the_bot():
    handoff = decide(requested_reason=None, is_public=True, sentiment=-0.1, negative_threshold=-0.6,
                     intent="complaint")
    assert handoff is not None and handoff.reason == "public_complaint" and handoff.priority >= 100


def test_a_routine_question_stays_with_the_bot():
    assert decide(requested_reason=None, is_public=False, sentiment=0.2, negative_threshold=-0.6,
                  intent="opening_hours") is None


def test_transitions_follow_the_state_machine():
    check_transition("bot", "queued")
    check_transition("assigned", "bot")
    with pytest.raises(TransitionError):
        check_transition("bot", "assigned")


def test_a_resolved_conversation_can_be_reopened_to_an_agent_but_not_queued():
    check_transition("closed", "assigned")
    with pytest.raises(TransitionError, match="from closed to queued"):
        check_transition("closed", "queued")


def test_an_explicit_request_comes_before_small_talk_and_a_complaint_before_both():
    def score(reason: str, sentiment: float = 0.0) -> int:
        return priority(reason=reason, is_public=False, sentiment=sentiment, negative_threshold=-0.6)

    # A mildly negative joke request must not outrank someone who asked for a person.
    assert score("complaint") > score("customer_request") > score("out_of_scope", sentiment=-0.2)
    assert score("late_delivery") > score("customer_request") > score("repeated_misunderstanding")
