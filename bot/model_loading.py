"""The dialogue model loads in the background; the service accepts messages meanwhile.

Loading TensorFlow and a model takes from twenty seconds to a minute and a half on a small
machine. Waiting for it before opening the port left webhooks unanswered (platforms
retry, then give up) and the person who typed `make run` looking at a silent terminal.
So the port opens at once, the inbox keeps what arrives, the worker starts claiming when
the model is ready, `/health` says "loading" until then, and a line every few seconds says
how long it has been.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 10.0


class Startable(Protocol):
    model_name: str

    async def start(self) -> None: ...


class ModelLoading:
    """Where this process's model stands: loading, ready (with the engine), or failed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started_at = clock()
        self.engine: Any = None
        self.seconds: float | None = None
        self.error: str | None = None

    @property
    def state(self) -> str:
        if self.engine is not None:
            return "ready"
        return "failed" if self.error is not None else "loading"

    def elapsed(self) -> float:
        return self._clock() - self.started_at

    async def load(self, engine: Startable, every: float = PROGRESS_EVERY_SECONDS) -> None:
        """Start the engine, saying every `every` seconds that it is still loading."""
        logger.info("loading the dialogue model %s (messages are accepted meanwhile and answered when it is ready)",
                    engine.model_name)
        progress = asyncio.create_task(self._progress(engine.model_name, every), name="model-loading-progress")
        try:
            await engine.start()
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            progress.cancel()
        self.seconds = self.elapsed()
        self.engine = engine
        logger.info("dialogue model %s ready in %.0f s", engine.model_name, self.seconds)

    async def _progress(self, model_name: str, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            logger.info("loading the dialogue model %s... %.0f s", model_name, self.elapsed())
