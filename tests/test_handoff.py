import pytest

from bot.handoff import RasaHandoffNames, TransitionError, check_transition, decide, priority, requested_by_model


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


NAMES = RasaHandoffNames.parse(" request_human, human_handoff ,", "action_handoff,action_human_handoff")


def asked(*, payload_reason=None, paused=False, intent="greet", actions=("utter_greet",)):
    return requested_by_model(payload_reason=payload_reason, paused=paused, intent=intent, actions=list(actions),
                              names=NAMES)


def test_the_hand_over_names_are_read_from_comma_separated_settings():
    assert NAMES == RasaHandoffNames(frozenset({"request_human", "human_handoff"}),
                                     frozenset({"action_handoff", "action_human_handoff"}))
    assert RasaHandoffNames.parse("", "") == RasaHandoffNames()


@pytest.mark.parametrize("turn, reason", [
    # The custom payload names its reason, whatever else the turn did.
    (dict(payload_reason="complaint", paused=True, intent="human_handoff", actions=["action_handoff"]), "complaint"),
    # A hand-over intent is the customer asking for a person, even if only an utterance ran.
    (dict(intent="human_handoff", actions=["utter_handoff"]), "customer_request"),
    (dict(intent="human_handoff", paused=True, actions=["action_pause"]), "customer_request"),
    # An action that paused the conversation, or a hand-over action by name, without a reason.
    (dict(intent="refund", paused=True, actions=["action_escalate"]), "assistant_handoff"),
    (dict(intent="refund", actions=["action_human_handoff"]), "assistant_handoff"),
    # A plain answer stays with the bot.
    (dict(intent="greet", actions=["utter_greet"]), None),
    (dict(intent=None, actions=[]), None),
])
def test_each_of_rasas_ways_of_handing_over_gives_a_reason(turn, reason):
    assert asked(**turn) == reason


def test_no_names_configured_leaves_the_payload_and_conversation_paused():
    nothing = RasaHandoffNames()
    assert requested_by_model(payload_reason=None, paused=False, intent="human_handoff",
                              actions=["action_handoff"], names=nothing) is None
    assert requested_by_model(payload_reason=None, paused=True, intent="human_handoff",
                              actions=["action_handoff"], names=nothing) == "assistant_handoff"


def test_a_hand_over_of_the_assistant_weighs_more_than_a_fallback_less_than_a_request():
    def weight(reason):
        return priority(reason=reason, is_public=False, sentiment=None, negative_threshold=-0.6)

    assert weight("out_of_scope") < weight("assistant_handoff") < weight("customer_request")


def test_by_default_the_demos_intent_and_rasas_common_names_hand_over():
    from bot.settings import Settings

    defaults = Settings.from_mapping({})
    names = RasaHandoffNames.parse(defaults.handoff_intents, defaults.handoff_actions)
    assert {"request_human", "human_handoff"} <= names.intents
    assert {"action_handoff", "action_human_handoff"} <= names.actions
    chosen = Settings.from_mapping({"HANDOFF_INTENTS": "greet", "HANDOFF_ACTIONS": "utter_greet"})
    assert RasaHandoffNames.parse(chosen.handoff_intents, chosen.handoff_actions) == RasaHandoffNames(
        frozenset({"greet"}), frozenset({"utter_greet"}))
