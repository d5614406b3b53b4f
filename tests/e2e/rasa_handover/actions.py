"""The test assistant's custom actions, as an existing Rasa project has them: served by
`rasa run actions` (rasa_sdk), knowing nothing of this service but its custom payload."""

from __future__ import annotations

from rasa_sdk import Action
from rasa_sdk.events import ConversationPaused


class ActionEscalate(Action):
    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="I'm sorry to hear that. A colleague will take it from here.")
        return [ConversationPaused()]


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="A colleague will look at your refund.")
        return []


class ActionOrderProblem(Action):
    def name(self) -> str:
        return "action_order_problem"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="I'm sorry about your order; I'm passing it to our team.")
        dispatcher.utter_message(json_message={"handoff": {"reason": "complaint"}})
        return []
