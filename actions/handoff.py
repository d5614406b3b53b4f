"""Handing a conversation to a person.

The action tells the customer, and tells the service through a custom payload
{"handoff": {"reason": ...}} that the service reads and never shows; the service then
queues the conversation and keeps the bot silent until an agent hands it back.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

REASONS = {
    "complaint": "complaint",
    "request_human": "customer_request",
    "out_of_scope": "out_of_scope",
    "nlu_fallback": "out_of_scope",
    # "yes" to the offer of a person (data/rules.yml)
    "affirm": "customer_request",
}


def handoff_reason(tracker: Tracker) -> str:
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    if intent in REASONS:
        return REASONS[intent]
    # Run by the RulePolicy's core fallback: the bot could not follow the conversation.
    return "repeated_misunderstanding"


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        hand_over(dispatcher, handoff_reason(tracker))
        return []


def hand_over(dispatcher: CollectingDispatcher, reason: str) -> None:
    """Tell the customer, and the service (a custom payload it reads and never shows)."""
    dispatcher.utter_message(response="utter_handoff")
    dispatcher.utter_message(json_message={"handoff": {"reason": reason}})
