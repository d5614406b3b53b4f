"""The running service switches models on activation: no restart, nothing lost, nothing twice.

Two registered versions of the cached demo model (the same file copied) are enough for
the swap's mechanics: the new agent loads beside the old one while messages flow.
"""

from __future__ import annotations

import asyncio
import shutil
import time

import pytest
from sqlalchemy import func, select

from bot.storage.database import Database
from bot.storage.models import InboxItem, Message
from bot.training.registry import Registry
from tests.support.client import is_response, new_sender, say
from tests.support.process import ServiceProcess

QUESTION = "what are your opening hours?"


# Loading the demo model twice takes minutes on a busy two-core machine.
@pytest.mark.timeout(900)
async def test_messages_flow_through_a_model_swap(model, tmp_path):
    models = tmp_path / "models"
    registry = Registry(models)
    for version in ("demo-v1", "demo-v2"):
        copy = tmp_path / f"{version}.tar.gz"
        shutil.copy(model, copy)
        registry.add(copy, fingerprint=version)
    registry.activate("demo-v1")
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'assistant.db'}"
    service = ServiceProcess({"DATABASE_URL": database_url, "MODELS_DIR": str(models), "MODEL_POLL_INTERVAL": "0.3",
                              "POLL_INTERVAL": "0.2", "DEMO_ORDERS": "false",
                              # A stream as fast as answers come, from one address: no rate limits here.
                              "SENDER_RATE_PER_MINUTE": "0", "ADDRESS_RATE_PER_MINUTE": "0"}).start()
    try:
        pid = service.process.pid
        assert service.health()["model"] == "demo-v1.tar.gz"
        senders = [new_sender("swap") for _ in range(4)]
        answers: list[list[dict]] = []
        swapped_at: int | None = None

        async def ask(sender: str, n: int) -> list[dict]:
            return await say(service.url, sender, QUESTION, message_id=f"{sender}-{n}")

        deadline = time.monotonic() + 600
        round_ = 0
        # Four conversations at once, round after round, until well after the swap.
        while time.monotonic() < deadline:
            answers += await asyncio.gather(*(ask(s, round_) for s in senders))
            round_ += 1
            if round_ == 3:
                registry.activate("demo-v2")
            if swapped_at is None and service.health()["model"] == "demo-v2.tar.gz":
                swapped_at = round_
            if swapped_at is not None and round_ >= swapped_at + 3:
                break
        assert swapped_at is not None, service.log()
        assert service.process.pid == pid and service.process.poll() is None  # never restarted

        # Every message answered once, with the right answer, through the swap.
        assert len(answers) == round_ * len(senders)
        for replies in answers:
            assert [r["text"] for r in replies if "text" in r] and all(
                is_response(r["text"], "utter_opening_hours") for r in replies if "text" in r), replies
            assert len(replies) == 1, replies
        db = Database(database_url)
        try:
            async with db.session() as session:
                incoming = await session.scalar(select(func.count()).select_from(Message)
                                                .where(Message.author == "customer"))
                per_item = (await session.execute(
                    select(Message.inbox_id, func.count()).where(Message.direction == "out")
                    .group_by(Message.inbox_id))).all()
                unfinished = await session.scalar(select(func.count()).select_from(InboxItem)
                                                  .where(InboxItem.status != "done"))
        finally:
            await db.close()
        assert incoming == len(answers)
        assert len(per_item) == len(answers) and {count for _, count in per_item} == {1}
        assert unfinished == 0
    finally:
        service.stop()
