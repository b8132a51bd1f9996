"""How long to wait before trying again: exponential back-off, capped, optionally jittered.

One rule for every retry in the system (texts, webhook deliveries, calendar syncs); each
names its own base and cap. The random source is passed in where a test needs it fixed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

# 2**16 times any sensible base is past any sensible cap; a larger exponent would
# overflow timedelta long before the cap applied.
_MAX_DOUBLINGS = 16


@dataclass(frozen=True)
class Backoff:
    base: timedelta  # the wait after the first failure
    cap: timedelta  # never longer than this
    # Full jitter over the upper half spreads many rows that failed together.
    jitter: bool = True

    def ceiling(self, attempt: int) -> timedelta:
        """The longest wait after the ``attempt``-th failure (1 for the first)."""
        return min(self.cap, self.base * (2 ** min(max(0, attempt - 1), _MAX_DOUBLINGS)))

    def after(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        ceiling = self.ceiling(attempt)
        if not self.jitter:
            return ceiling
        seconds = ceiling.total_seconds()
        return timedelta(seconds=(rng or random).uniform(seconds / 2, seconds))


# Texts and webhook deliveries: 30 s after the first failure, doubling, at most 30 min.
DELIVERY = Backoff(base=timedelta(seconds=30), cap=timedelta(minutes=30))
