"""Order tracking: the form that asks for the number, and the lookup that answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

ORDER_NUMBER = re.compile(r"\b(\d{6})\b")


@dataclass(frozen=True)
class OrderInfo:
    number: str
    status: str  # processing | shipped | delivered | cancelled
    carrier: str | None
    tracking_code: str | None
    expected_delivery: date | None
    items: str


class OrderLookup(Protocol):
    async def __call__(self, number: str) -> OrderInfo | None: ...


# The demo brand's orders: the service seeds its orders table from these.
DEMO_ORDERS: tuple[OrderInfo, ...] = (
    OrderInfo("482913", "shipped", "DPD", "15501234567890", date(2026, 12, 2), "Linen shirt (M), canvas tote"),
    OrderInfo("104577", "delivered", "Royal Mail", "RM123456789GB", date(2026, 11, 20), "Wool coat (L)"),
    OrderInfo("731046", "processing", None, None, date(2026, 12, 5), "Trainers (42), socks x3"),
    OrderInfo("559201", "cancelled", None, None, None, "Sofa cover"),
    OrderInfo("880412", "shipped", "Evri", "H01ABC2345678901", date(2026, 11, 28), "Denim jacket (S)"),
    OrderInfo("320987", "delivered", "DPD", "15509876543210", date(2026, 11, 18), "Bedding set (double)"),
    OrderInfo("664120", "processing", None, None, date(2026, 12, 8), "Ceramic mugs x4"),
    OrderInfo("217356", "shipped", "Royal Mail", "RM987654321GB", date(2026, 11, 30), "Cashmere scarf"),
)


async def demo_lookup(number: str) -> OrderInfo | None:
    return next((order for order in DEMO_ORDERS if order.number == number), None)


def describe(order: OrderInfo) -> str:
    when = order.expected_delivery.strftime("%A %-d %B") if order.expected_delivery else None
    if order.status == "shipped":
        return (f"Good news: order {order.number} ({order.items}) is on its way with {order.carrier}, "
                f"tracking code {order.tracking_code}. It should arrive by {when}.")
    if order.status == "delivered":
        return (f"Order {order.number} ({order.items}) was delivered by {order.carrier} on {when}. "
                "If you can't find it, just tell me and I'll get a person to help.")
    if order.status == "processing":
        return (f"Order {order.number} ({order.items}) is being prepared in our warehouse and should "
                f"arrive by {when}. You'll get a tracking link by email when it ships.")
    if order.status == "cancelled":
        return f"Order {order.number} was cancelled, and any payment has been refunded to you."
    return f"Order {order.number} is {order.status}."


class ValidateOrderStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_status_form"

    def validate_order_number(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: dict) -> dict[str, Any]:
        match = ORDER_NUMBER.search(str(slot_value or ""))
        if match is None:
            dispatcher.utter_message(text="Order numbers have 6 digits, like 482913. Could you check it?")
            return {"order_number": None}
        return {"order_number": match.group(1)}


class ActionCheckOrderStatus(Action):
    def __init__(self, lookup: OrderLookup | None = None) -> None:
        # A standalone `rasa run actions` has no database: it answers from the demo orders.
        self.lookup = lookup or demo_lookup

    def name(self) -> str:
        return "action_check_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict]:
        number = tracker.get_slot("order_number")
        order = await self.lookup(number) if number else None
        if order is None:
            dispatcher.utter_message(
                text=f"I couldn't find an order with the number {number}. Please check the number in your "
                     "confirmation email, or ask for a person and we'll look into it.")
        else:
            dispatcher.utter_message(text=describe(order))
        return [SlotSet("order_number", None)]
