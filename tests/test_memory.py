"""Objects made at start are kept out of the garbage collector's full passes; a model
switch thaws them so the old model can be freed, and they are frozen again later."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Roles, create_app
from bot.memory import thaw_for_model_swap
from bot.settings import Settings


@pytest.fixture(autouse=True)
def thawed():
    gc.unfreeze()
    yield
    gc.unfreeze()


async def test_the_service_freezes_what_it_made_at_start(tmp_path):
    settings = Settings.from_mapping({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/a.db",
                                      "CONSOLE_FIRST_ADMIN": "false"})
    assert gc.get_freeze_count() == 0
    async with TestClient(TestServer(create_app(settings, Roles(web=True, worker=False)))):
        assert gc.get_freeze_count() > 10_000


async def test_a_model_swap_lets_the_old_model_be_collected_and_freezes_again():
    class Model:  # a model's objects refer to each other: only the collector frees them
        def __init__(self) -> None:
            self.me = self

    kept, old = Model(), Model()
    gone_kept, gone_old = weakref.ref(kept), weakref.ref(old)
    gc.freeze()
    del kept
    gc.collect()
    assert gone_kept() is not None  # frozen cyclic garbage is never freed

    thaw_for_model_swap(delay=0.05)
    assert gc.get_freeze_count() == 0
    del old
    await asyncio.sleep(0.2)
    assert gc.get_freeze_count() > 0  # frozen again
    assert gone_old() is None and gone_kept() is None
