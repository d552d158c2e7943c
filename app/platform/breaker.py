"""A shared store's breaker: its users leave it alone for a while after it failed."""

from __future__ import annotations

import time


class StoreBreaker:
    """Leaves a shared store alone for a while after it failed: during an outage each user
    of the store pays one failed round trip (up to the socket timeout) per period, not one
    per call."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.failing = False

    def available(self) -> bool:
        """Whether the store is worth trying (no failure within the last period)."""
        return time.monotonic() >= self.down_until

    def trip(self, seconds: float) -> bool:
        """The store just failed: skip it for `seconds`. Whether this failure begins an
        outage (the store answered since the last one), for one warning per outage."""
        self.down_until = time.monotonic() + seconds
        began, self.failing = not self.failing, True
        return began

    def recover(self) -> bool:
        """The store just answered; whether this ends an outage."""
        ended, self.failing = self.failing, False
        return ended
