"""Asking before guessing: "Do you mean A or B?" when the model is unsure.

The FallbackClassifier turns a message the model is not confident about (under its
threshold, or two intents too close to call) into `nlu_fallback`, and a rule runs this
action. It offers the one or two most likely topics as buttons, with "Something else",
when the best of them reaches `CLARIFY_FLOOR`; a button sends its intent as a payload
("/shipping_time"), which the rules answer as if the customer had typed it. Nothing near
enough, a second unsure message right after a question of ours, or one whose likeliest
reading is a complaint or a request for a person, goes to a person: a
hand-over costs an agent a minute, a confident wrong answer costs the customer's trust.

The buttons' titles are the domain's responses `utter_topic_<intent>`, so a brand words
and translates them like any other response; an intent without one is offered by its
name in words.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over

CLARIFY_FLOOR = 0.3
# The second topic is offered when it is at least this likely (and the first is offered).
SECOND_FLOOR = 0.15
# Intents that are not a topic to offer: small talk, and those already handed to a person.
NOT_TOPICS = frozenset({"nlu_fallback", "out_of_scope", "greet", "goodbye", "thank", "affirm", "deny",
                        "bot_challenge", "complaint", "request_human", "inform_order_number"})
# The likeliest intent that makes an unsure message a hand-over at once, with its reason.
PERSON_WANTED = {"complaint": "complaint", "request_human": "customer_request"}
SOMETHING_ELSE = {"title": "Something else", "payload": "/out_of_scope"}


class ActionClarify(Action):
    def name(self) -> str:
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        likeliest = next((r.get("name") for r in ranking if r.get("name") != "nlu_fallback"), None)
        if likeliest in PERSON_WANTED:
            # Even unsure, the likeliest reading is "I want a person" or a complaint: no quiz.
            hand_over(dispatcher, PERSON_WANTED[likeliest])
            return []
        topics = candidate_topics(ranking)
        if not topics or just_asked(tracker):
            hand_over(dispatcher, "out_of_scope")
            return []
        titles = [topic_title(domain, intent) for intent in topics]
        buttons = [{"title": title, "payload": f"/{intent}"} for intent, title in zip(topics, titles)]
        if len(titles) == 2:
            dispatcher.utter_message(response="utter_clarify_two", first=titles[0], second=titles[1],
                                     buttons=[*buttons, SOMETHING_ELSE])
        else:
            dispatcher.utter_message(response="utter_clarify_one", first=titles[0],
                                     buttons=[*buttons, SOMETHING_ELSE])
        return []


def candidate_topics(ranking: list[dict[str, Any]]) -> list[str]:
    ranked = [(r.get("name"), r.get("confidence") or 0.0) for r in ranking if r.get("name") not in NOT_TOPICS]
    ranked.sort(key=lambda pair: pair[1], reverse=True)
    if not ranked or ranked[0][1] < CLARIFY_FLOOR:
        return []
    return [name for name, confidence in ranked[:2] if confidence >= SECOND_FLOOR]


def just_asked(tracker: Tracker) -> bool:
    """Whether the bot's last action before the customer's latest message was this question."""
    return last_bot_action(tracker) == ActionClarify().name()


def last_bot_action(tracker: Tracker) -> str | None:
    """The bot's last action before the customer's latest message (listening aside)."""
    events = iter(reversed(tracker.events or []))
    for event in events:
        if event.get("event") == "user":
            break
    for event in events:
        if event.get("event") == "action" and event.get("name") != "action_listen":
            return event.get("name")
    return None


def topic_title(domain: dict, intent: str) -> str:
    variants = (domain.get("responses") or {}).get(f"utter_topic_{intent}") or []
    text = next((v.get("text") for v in variants if v.get("text")), None)
    return text or intent.replace("_", " ").capitalize()
