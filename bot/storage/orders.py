"""The demo brand's orders table, read by the order-status custom action."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from actions.orders import OrderInfo
from bot.storage.database import Database
from bot.storage.models import Order


class OrderRepository:
    """The `OrderLookup` the custom actions are given. Its database must only be used
    from the dialogue engine's own event loop (see bot/engine.py)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(self, number: str) -> OrderInfo | None:
        async with self.db.session() as session:
            order = await session.get(Order, number)
        if order is None:
            return None
        return OrderInfo(number=order.number, status=order.status, carrier=order.carrier,
                         tracking_code=order.tracking_code, expected_delivery=order.expected_delivery,
                         items=order.items)


async def seed_orders(db: Database, orders: Iterable[OrderInfo]) -> int:
    """Fill an empty orders table with the demo orders; a table with data is left alone."""
    async with db.session() as session:
        if (await session.execute(select(func.count()).select_from(Order))).scalar_one():
            return 0
        rows = [Order(number=o.number, status=o.status, carrier=o.carrier, tracking_code=o.tracking_code,
                      expected_delivery=o.expected_delivery, items=o.items) for o in orders]
        session.add_all(rows)
    return len(rows)
