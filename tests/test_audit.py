"""The audit trail on both backends: every desk action on a conversation is recorded,
with ids and names but no customer text."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.bus import LocalBus
from bot.console import accounts
from bot.console.desk import Desk
from bot.messages import utcnow
from bot.storage.audit_log import AuditFilter, entries
from bot.storage.models import AuditEntry
from tests.console.test_desk import queued


async def test_desk_actions_and_accounts_are_recorded_without_customer_text(db):
    await accounts.add_user(db, "ann", "agent", "password-of-ann", utcnow())
    await accounts.add_user(db, "bob", "agent", "password-of-bob", utcnow())
    desk = Desk(db, LocalBus())
    conversation = await queued(db, "audited-customer")
    await desk.claim(conversation, "ann")
    await desk.note(conversation, "ann", "the customer's secret address, 12 Elm Street")
    await desk.reply(conversation, "ann", "Your parcel to 12 Elm Street is on its way")
    await desk.transfer(conversation, "ann", "bob", supervisor=False)
    await desk.resolve(conversation, "bob", ask_satisfaction=False, supervisor=False)
    await accounts.disable(db, "bob", by="sue")

    async with db.session() as session:
        rows = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
        newest_by_ann = await entries(session, AuditFilter(actor="ann"))
    assert [(r.actor, r.action, r.target) for r in rows] == [
        ("cli", "user_added", "user:ann"), ("cli", "user_added", "user:bob"),
        ("ann", "claim", f"conversation:{conversation}"), ("ann", "note", f"conversation:{conversation}"),
        ("ann", "reply", f"conversation:{conversation}"), ("ann", "transfer", f"conversation:{conversation}"),
        ("bob", "resolve", f"conversation:{conversation}"), ("sue", "user_disabled", "user:bob")]
    assert rows[5].details == {"to": "bob"}
    assert [e["action"] for e in newest_by_ann] == ["transfer", "reply", "note", "claim"]
    everything = json.dumps([(r.target, r.details) for r in rows])
    assert "Elm Street" not in everything and "audited-customer" not in everything
