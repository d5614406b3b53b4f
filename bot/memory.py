"""What a process makes at start (modules, TensorFlow, the model) lives as long as it;
the garbage collector is told so.

Python's full collections walk every object that survived the younger ones. With a Rasa
model loaded that is millions of objects: each full pass held the engine's interpreter
for 0.3 to 1 s and the web process's for about 0.1 s, several times a minute under load,
and every message in flight (and every webhook waiting to be acknowledged) waited for
it. Frozen, those objects are skipped; what the process makes afterwards is collected
as ever.
"""

from __future__ import annotations

import asyncio
import gc

# A switched-out model is still in use by the messages it was answering; they are done
# long before this.
REFREEZE_AFTER_SWAP_SECONDS = 60.0


def freeze_long_lived() -> None:
    gc.freeze()


def thaw_for_model_swap(delay: float = REFREEZE_AFTER_SWAP_SECONDS) -> None:
    """The old model becomes garbage, and frozen garbage in cycles is never freed: thaw
    now, collect and freeze again once the old model's last messages are answered."""
    gc.unfreeze()

    def refreeze() -> None:
        gc.collect()
        gc.freeze()

    asyncio.get_running_loop().call_later(delay, refreeze)
