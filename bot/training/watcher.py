"""The serving side of model activation: swap to the registry's active model when it changes.

Polls models/registry.json (a small file, read only) every few seconds, so activation by
any process on any machine sharing the models directory reaches every dialogue worker
without a message bus or a restart.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

from bot.bus import CONSOLE_TOPIC, TRAINING_TOPIC, Bus
from bot.training.registry import Registry

logger = logging.getLogger(__name__)


class Swappable(Protocol):
    model_path: Path

    async def swap(self, model_path: Path) -> None: ...


async def follow_active_model(engine: Swappable, models_dir: Path, interval: float, bus: Bus | None = None) -> None:
    registry = Registry(models_dir)
    failed: Path | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            active = registry.active_path()
            if active is None or active == engine.model_path or active == failed or not active.exists():
                continue
            logger.info("model %s was activated; loading it", active.name)
            await engine.swap(active)
            failed = None
            if bus is not None:
                for topic in (CONSOLE_TOPIC, TRAINING_TOPIC):
                    await bus.publish(topic, {"type": "model_activated", "model": active.name})
        except asyncio.CancelledError:
            raise
        except Exception:
            # A model that does not load stays skipped until another is activated; the
            # current one goes on answering.
            logger.exception("could not switch to model %s; still answering with %s", active, engine.model_path)
            failed = active
