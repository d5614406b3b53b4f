"""bot/policy_shortcut.py: TEDPolicy skipped where it cannot win, and nothing else changed.

The demo model answers the same conversations twice, with the shortcut and without it;
every action, the policy that chose it and its confidence must be the same, while TED's
inference runs on fewer turns."""

from __future__ import annotations

import pytest

from actions.orders import DEMO_ORDERS
from bot.action_package import ActionResources, load_actions
from bot.engine import DialogueEngine
from bot.storage.database import Database
from bot.storage.migrate import upgrade
from bot.storage.orders import OrderRepository, seed_orders

pytestmark = pytest.mark.slow

CONVERSATIONS = [
    ["hi", "what are your opening hours?", "how much is shipping?", "thanks", "bye"],
    ["where is my order?", DEMO_ORDERS[0].number, DEMO_ORDERS[0].email, "thanks"],
    ["where is order 104577", "wrong@example.com", "AB1 2CD", "XX1 1XX"],
    ["can you check order 999999", "ok"],
    ["I want to talk to a human"],
    ["blorp zindle quaxx frobnicate", "hello?"],
    ["do you sell gift cards?", "ok", "what is your returns policy?", "/affirm"],
    ["/greet", "this is the worst service ever, my parcel arrived broken"],
    # No rule or story starts like these: the ensemble needs TED's prediction.
    ["yes"],
    ["no", "no thanks"],
    ["where is my order?", "what are your opening hours?", "stop"],
]


async def decisions(engine: DialogueEngine, key: str) -> list[tuple]:
    """Every action of the conversation with the policy that chose it and its confidence."""
    from rasa.shared.core.events import ActionExecuted, BotUttered

    tracker = await engine._thread.call(engine._agent.tracker_store.retrieve(key))
    return [(e.action_name, e.policy, round(e.confidence or 0.0, 6)) if isinstance(e, ActionExecuted)
            else ("said", e.text) for e in tracker.events if isinstance(e, (ActionExecuted, BotUttered))]


async def run_all(engine: DialogueEngine, prefix: str) -> list[list[tuple]]:
    await engine.start()
    try:
        results = []
        for n, texts in enumerate(CONVERSATIONS):
            key = f"{prefix}-{n}"
            for turn, text in enumerate(texts):
                await engine.handle(key, text, channel="rest", message_id=f"{key}-{turn}")
            results.append(await decisions(engine, key))
        return results
    finally:
        await engine.stop()


async def test_the_shortcut_changes_no_decision_and_skips_ted_on_decided_turns(model, tmp_path, monkeypatch):
    from rasa.core.policies.ted_policy import TEDPolicy

    url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    upgrade(url.replace("+aiosqlite", ""))
    db = Database(url)
    await seed_orders(db, DEMO_ORDERS)
    await db.close()

    calls = {"ted": 0}
    predict = TEDPolicy.predict_action_probabilities

    def counted(self, *args, **kwargs):
        calls["ted"] += 1
        return predict(self, *args, **kwargs)

    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", counted)

    def engine(skip: bool) -> DialogueEngine:
        return DialogueEngine(model, {}, load_actions("actions", ActionResources(order_lookup=OrderRepository(Database(url)))),
                              skip_ted_when_decided=skip)

    plain = await run_all(engine(False), "plain")
    ted_without_shortcut, calls["ted"] = calls["ted"], 0
    shortcut = await run_all(engine(True), "shortcut")

    assert shortcut == plain
    # Every conversation went somewhere: answers, the form, a hand-over.
    assert all(any(d[0] == "said" for d in conversation) for conversation in plain)
    assert 0 < calls["ted"] < ted_without_shortcut / 2
