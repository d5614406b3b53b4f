"""The demo orders are seeded once, however many processes start together."""

import asyncio

from sqlalchemy import func, select

from actions.orders import DEMO_ORDERS
from bot.storage.database import Database
from bot.storage.models import Order
from bot.storage.orders import seed_orders


async def test_processes_seeding_together_all_start_and_the_orders_are_there_once(db, database_url):
    others = [Database(database_url) for _ in range(3)]
    try:
        seeded = await asyncio.gather(*(seed_orders(each, DEMO_ORDERS) for each in [db, *others]))
    finally:
        for each in others:
            await each.close()
    async with db.session() as session:
        stored = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
    assert stored == len(DEMO_ORDERS)
    assert sum(seeded) == len(DEMO_ORDERS)
    assert await seed_orders(db, DEMO_ORDERS) == 0
