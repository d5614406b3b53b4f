"""Order tracking: the form that asks for the number and a proof of ownership, and the
lookup that answers.

An order number alone proves nothing (six digits are easy to guess), so the form also
asks for something only the buyer knows: the e-mail address or the postcode on the
order. The proof is compared in constant time, a conversation gets `MAX_PROOF_TRIES`
wrong answers, and then a person takes over. A number that does not exist gets the same
answers as a wrong proof, so guessing numbers tells nobody which orders exist.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date, timedelta
from collections.abc import Callable
from typing import Any, Protocol

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

ORDER_NUMBER = re.compile(r"\b(\d{6})\b")
EMAIL = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+\.[^\s@<>\"'.]+")
# A UK postcode anywhere in the text ("it's SW1A 1AA"); other formats are the whole text.
POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2})\b", re.IGNORECASE)
MAX_PROOF_TRIES = 3
# The form's proof slot holds only the outcome, never what the customer typed.
VERIFIED, REFUSED = "verified", "refused"


@dataclass(frozen=True)
class OrderInfo:
    number: str
    status: str  # processing | shipped | delivered | cancelled
    carrier: str | None
    tracking_code: str | None
    expected_delivery: date | None
    items: str
    email: str | None = None
    postcode: str | None = None


class OrderLookup(Protocol):
    async def __call__(self, number: str) -> OrderInfo | None: ...


def _days(offset: int) -> date:
    return date.today() + timedelta(days=offset)


# The demo brand's orders: the service seeds its orders table from these, with dates around
# the day it first starts. 217356 is late: shipped, due three days ago.
DEMO_ORDERS: tuple[OrderInfo, ...] = (
    OrderInfo("482913", "shipped", "DPD", "15501234567890", _days(2), "Linen shirt (M), canvas tote",
              "ana.silva@example.com", "SW1A 1AA"),
    OrderInfo("104577", "delivered", "Royal Mail", "RM123456789GB", _days(-12), "Wool coat (L)",
              "ben.okafor@example.com", "M1 1AE"),
    OrderInfo("731046", "processing", None, None, _days(4), "Trainers (42), socks x3",
              "chloe.martin@example.com", "LS1 4DY"),
    OrderInfo("559201", "cancelled", None, None, None, "Sofa cover", "dev.patel@example.com", "BS1 5TR"),
    OrderInfo("880412", "shipped", "Evri", "H01ABC2345678901", _days(1), "Denim jacket (S)",
              "eva.novak@example.com", "EH1 1YZ"),
    OrderInfo("320987", "delivered", "DPD", "15509876543210", _days(-15), "Bedding set (double)",
              "finn.walsh@example.com", "WC2E 9DD"),
    OrderInfo("664120", "processing", None, None, _days(6), "Ceramic mugs x4",
              "grace.lee@example.com", "M4 1HN"),
    OrderInfo("217356", "shipped", "Royal Mail", "RM987654321GB", _days(-3), "Cashmere scarf",
              "hana.ito@example.com", "LS2 7EY"),
)


async def demo_lookup(number: str) -> OrderInfo | None:
    return next((order for order in DEMO_ORDERS if order.number == number), None)


def normalise_email(value: str) -> str:
    return value.strip().lower()


def normalise_postcode(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def proof_in(text: str) -> str:
    """What the customer offered as proof, normalised: an e-mail address if the text has
    one, else a postcode, else the whole text as a postcode."""
    if (email := EMAIL.search(text)) is not None:
        return normalise_email(email.group(0))
    if (postcode := POSTCODE.search(text)) is not None:
        return normalise_postcode(postcode.group(1))
    return normalise_postcode(text)


# Compared against when there is no order, so a missing order takes the same work.
_NOTHING = "\x00" * 32


def proves(order: OrderInfo | None, offered: str) -> bool:
    """Whether `offered` (from proof_in) is the order's e-mail address or postcode.

    Both comparisons always run, in constant time for equal lengths, whatever the order."""
    email = normalise_email(order.email) if order and order.email else _NOTHING
    postcode = normalise_postcode(order.postcode) if order and order.postcode else _NOTHING
    given = offered.encode()
    by_email = hmac.compare_digest(given, email.encode())
    by_postcode = hmac.compare_digest(given, postcode.encode())
    return order is not None and (by_email | by_postcode)


@dataclass(frozen=True)
class OrderAnswer:
    text: str
    # Set when the facts break the brand's promise: a person takes over.
    handoff_reason: str | None = None


def describe(order: OrderInfo, today: date) -> OrderAnswer:
    when = order.expected_delivery.strftime("%A %-d %B") if order.expected_delivery else None
    late = order.expected_delivery is not None and order.expected_delivery < today
    if order.status == "shipped" and late:
        return OrderAnswer(
            f"I'm sorry: order {order.number} ({order.items}) is with {order.carrier}, tracking code "
            f"{order.tracking_code}, and should have arrived by {when}. I'm passing you to a member of our "
            "team, who will chase it with the carrier.", "late_delivery")
    if order.status == "shipped":
        return OrderAnswer(f"Good news: order {order.number} ({order.items}) is on its way with {order.carrier}, "
                           f"tracking code {order.tracking_code}. It should arrive by {when}.")
    if order.status == "delivered":
        return OrderAnswer(f"Order {order.number} ({order.items}) was delivered by {order.carrier} on {when}. "
                           "If you can't find it, just tell me and I'll get a person to help.")
    if order.status == "processing" and late:
        return OrderAnswer(
            f"I'm sorry: order {order.number} ({order.items}) should have arrived by {when} and has not "
            "left our warehouse yet. I'm passing you to a member of our team, who will sort it out.",
            "late_delivery")
    if order.status == "processing":
        return OrderAnswer(f"Order {order.number} ({order.items}) is being prepared in our warehouse and should "
                           f"arrive by {when}. You'll get a tracking link by email when it ships.")
    if order.status == "cancelled":
        return OrderAnswer(f"Order {order.number} was cancelled, and any payment has been refunded to you.")
    return OrderAnswer(f"Order {order.number} is {order.status}.")


def _tries(tracker: Tracker) -> int:
    return int(tracker.get_slot("order_proof_tries") or 0)


class ValidateOrderStatusForm(FormValidationAction):
    def __init__(self, order_lookup: OrderLookup | None = None) -> None:
        # The service hands in its database's lookup (bot/action_package.py).
        self.lookup = order_lookup or demo_lookup

    def name(self) -> str:
        return "validate_order_status_form"

    def validate_order_number(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict) -> dict[str, Any]:
        match = ORDER_NUMBER.search(str(slot_value or ""))
        if match is None:
            dispatcher.utter_message(text="Order numbers have 6 digits, like 482913. Could you check it?")
            return {"order_number": None}
        return {"order_number": match.group(1)}

    async def validate_order_proof(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: dict) -> dict[str, Any]:
        tries = _tries(tracker)
        if tries >= MAX_PROOF_TRIES:  # used up earlier in this conversation: no more guesses
            return {"order_proof": REFUSED}
        number = tracker.get_slot("order_number")
        order = await self.lookup(number) if number else None
        if proves(order, proof_in(str(slot_value or ""))):
            return {"order_proof": VERIFIED}
        tries += 1
        if tries >= MAX_PROOF_TRIES:
            return {"order_proof": REFUSED, "order_proof_tries": float(tries)}
        dispatcher.utter_message(
            text=f"Sorry, that doesn't match our records for order {number}. Please check the e-mail "
                 "address or postcode the order was placed with.")
        return {"order_proof": None, "order_proof_tries": float(tries)}


class ActionCheckOrderStatus(Action):
    def __init__(self, order_lookup: OrderLookup | None = None, today: Callable[[], date] = date.today) -> None:
        # A standalone `rasa run actions` has no database: it answers from the demo orders.
        self.lookup = order_lookup or demo_lookup
        self.today = today

    def name(self) -> str:
        return "action_check_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        done = [SlotSet("order_number", None), SlotSet("order_proof", None)]
        number = tracker.get_slot("order_number")
        order = await self.lookup(number) if number else None
        if tracker.get_slot("order_proof") != VERIFIED or order is None:
            dispatcher.utter_message(
                text="I couldn't confirm that order's details, so I'm passing you to a member of our "
                     "team, who can check who you are and help.")
            dispatcher.utter_message(json_message={"handoff": {"reason": "order_verification_failed"}})
            return done
        answer = describe(order, self.today())
        dispatcher.utter_message(text=answer.text)
        if answer.handoff_reason is not None:
            dispatcher.utter_message(json_message={"handoff": {"reason": answer.handoff_reason}})
        return done
