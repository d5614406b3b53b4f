"""Out of scope, once: say what the assistant can do and offer a person.

Weather, jokes, football: sent straight to the queue, they took agents' time. Now the
first such message gets a polite list of what the bot does and an offer of a person
(buttons "Yes, a person" and "No thanks"); a "yes" to the offer (a rule), another message
out of scope, or "Something else" pressed under a clarifying question hands over.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clarify import ActionClarify, last_bot_action
from actions.handoff import hand_over


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        if last_bot_action(tracker) in {self.name(), ActionClarify().name()}:
            hand_over(dispatcher, "out_of_scope")
        else:
            dispatcher.utter_message(response="utter_out_of_scope")
        return []
