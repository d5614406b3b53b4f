"""The demo brand's custom actions (rasa_sdk).

The service runs them in-process with `build_actions(lookup)`, giving the order lookup
its own database; `rasa run actions --actions actions` serves them standalone too.
"""

from __future__ import annotations

from rasa_sdk import Action

from actions.clarify import ActionClarify
from actions.handoff import ActionHandoff
from actions.refunds import ActionRefundStatus
from actions.small_talk import ActionOutOfScope
from actions.orders import ActionCheckOrderStatus, OrderLookup, ValidateOrderStatusForm


def build_actions(order_lookup: OrderLookup) -> list[Action]:
    return [ActionHandoff(), ActionClarify(), ActionRefundStatus(), ActionOutOfScope(),
            ActionCheckOrderStatus(order_lookup), ValidateOrderStatusForm(order_lookup)]
