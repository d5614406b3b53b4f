"""A refund question, answered with the brand's promise unless the customer's own words
say the promise is already broken.

"Refunds are issued within 3 working days" is the right answer to "when do I get my
money back?" and the wrong one to "my refund is 3 weeks late": that customer needs a
person, and an apology, not the policy again. The time the customer says has passed is
read from the text; more than `PROMISED_DAYS` hands over as a complaint.
"""

from __future__ import annotations

import re

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_over

# 3 working days, and a weekend between: what a customer can fairly wait before asking.
PROMISED_DAYS = 5
# Read on the first characters only: a bounded text, a linear pattern.
MAX_CHARS = 500
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "a few": 3, "several": 3, "a couple of": 2, "couple of": 2}
ELAPSED = re.compile(r"\b(\d{1,3}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) +
                     r")\s+(?:working\s+|business\s+)?(day|week|month)s?\b", re.IGNORECASE)
UNIT_DAYS = {"day": 1, "week": 7, "month": 30}


def days_waited(text: str) -> int | None:
    """The longest time span the text names, in days ("3 weeks" -> 21), or None."""
    spans = [_number(count) * UNIT_DAYS[unit.lower()] for count, unit in ELAPSED.findall(text[:MAX_CHARS])]
    return max(spans, default=None)


def _number(count: str) -> int:
    return int(count) if count.isdigit() else NUMBER_WORDS[count.lower()]


class ActionRefundStatus(Action):
    def name(self) -> str:
        return "action_refund_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        waited = days_waited(tracker.latest_message.get("text") or "")
        if waited is not None and waited > PROMISED_DAYS:
            dispatcher.utter_message(response="utter_refund_overdue")
            hand_over(dispatcher, "complaint")
        else:
            dispatcher.utter_message(response="utter_refund_status")
        return []
