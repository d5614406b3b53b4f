"""The demo's canned responses fill an empty list once and never touch a brand's own."""

from __future__ import annotations

from bot.console.demo_canned import DEMO_CANNED
from bot.messages import utcnow
from bot.storage.console import canned_responses, save_canned, seed_canned


async def test_an_empty_list_gets_the_demo_set_once(db):
    async with db.session() as session:
        assert await seed_canned(session, DEMO_CANNED, "demo", utcnow()) == len(DEMO_CANNED)
    async with db.session() as session:
        assert await seed_canned(session, DEMO_CANNED, "demo", utcnow()) == 0
        rows = await canned_responses(session)
    assert sorted((c.shortcut, c.text) for c in rows) == sorted(DEMO_CANNED)


async def test_a_brands_own_list_is_left_alone(db):
    async with db.session() as session:
        await save_canned(session, "ours", "Our own words.", "sue", utcnow())
    async with db.session() as session:
        assert await seed_canned(session, DEMO_CANNED, "demo", utcnow()) == 0
        assert [c.shortcut for c in await canned_responses(session)] == ["ours"]
