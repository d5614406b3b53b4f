"""The demo brand's orders table, read by the order-status custom action."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update

from actions.orders import OrderInfo
from bot.storage.database import Database
from bot.storage.dialect import insert_ignoring_conflicts
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
                         items=order.items, email=order.email, postcode=order.postcode)


async def seed_orders(db: Database, orders: Iterable[OrderInfo]) -> int:
    """Fill an empty orders table with the demo orders; a table with data is left alone,
    except that demo orders stored before orders had a proof of ownership are given theirs
    (without one, nobody could ever be told about them)."""
    orders = list(orders)
    if not orders:
        return 0
    async with db.session() as session:
        if (await session.execute(select(func.count()).select_from(Order))).scalar_one():
            for o in orders:
                await session.execute(update(Order).where(Order.number == o.number, Order.email.is_(None),
                                                          Order.postcode.is_(None))
                                      .values(email=o.email, postcode=o.postcode))
            return 0
        rows = [dict(number=o.number, status=o.status, carrier=o.carrier, tracking_code=o.tracking_code,
                     expected_delivery=o.expected_delivery, items=o.items, email=o.email, postcode=o.postcode)
                for o in orders]
        # Several web processes starting together may all find the table empty: the first
        # one's rows stand, the others' are skipped rather than failing their start.
        result = await session.execute(insert_ignoring_conflicts(session, Order.__table__, rows))
    return result.rowcount
