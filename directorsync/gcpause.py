"""Pause Python's cyclic garbage collector while large, cycle-free data is built.

Decoding a listing of 100,000 objects or transforming columns of 300,000 cells allocates millions
of containers; each allocation burst triggers generational collections that walk every young
container (decoding 35 MB of JSON takes 1.0 s with the collector on, 0.2 s with it paused). None
of that data forms reference cycles, so pausing loses nothing; reference counting still frees
everything as usual. Nested and concurrent pauses (threads) are counted: the collector resumes
when the last one ends, and only if it was on before the first. What survives the pause is then
moved to the oldest generation without a walk (``gc.freeze()`` + ``gc.unfreeze()``), so the first
young collections after the pause do not walk it all either (0.4 s after a 100,000-device plan).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector paused (re-entrant, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                # What was built survives as the oldest generation: the next young collections
                # need not walk millions of fresh containers (a freeze moves them without a walk;
                # unfreezing keeps them collectable by the next full collection).
                gc.freeze()
                gc.unfreeze()
                gc.enable()
