"""Token buckets per API key: requests per minute and tokens per minute.

Pure and clock-injected, so tests need no sleeping. Each gateway instance
keeps its own buckets: with N instances behind a balancer a key may reach up
to N times its limit (documented; a shared limiter is future work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Bucket", "RateLimiter"]


@dataclass
class Bucket:
    per_minute: int
    level: float = field(default=-1.0)
    updated: float = 0.0

    def _refill(self, now: float) -> None:
        if self.level < 0:
            self.level, self.updated = float(self.per_minute), now
            return
        rate = self.per_minute / 60.0
        self.level = min(float(self.per_minute), self.level + (now - self.updated) * rate)
        self.updated = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available (0 if it is now)."""
        self._refill(now)
        missing = min(amount, float(self.per_minute)) - self.level
        return 0.0 if missing <= 0 else missing / (self.per_minute / 60.0)

    def take(self, amount: float, now: float) -> None:
        """Spend ``amount``; the level may go negative (actual use above the estimate)."""
        self._refill(now)
        self.level -= amount


class RateLimiter:
    """Buckets keyed by (key_id, kind), created with the limit the plan gives."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, key_id: str, kind: str, per_minute: int) -> Bucket:
        bucket = self._buckets.get((key_id, kind))
        if bucket is None or bucket.per_minute != per_minute:
            bucket = self._buckets[(key_id, kind)] = Bucket(per_minute)
        return bucket

    def admit(
        self,
        key_id: str,
        now: float,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        tokens: int,
    ) -> int:
        """Take one request and ``tokens`` from the key's buckets; return 0, or the
        whole seconds to wait (for Retry-After) without taking anything."""
        waits = []
        if requests_per_minute:
            waits.append(self._bucket(key_id, "requests", requests_per_minute).wait_for(1, now))
        if tokens_per_minute:
            waits.append(self._bucket(key_id, "tokens", tokens_per_minute).wait_for(tokens, now))
        wait = max(waits, default=0.0)
        if wait > 0:
            return max(1, math.ceil(wait))
        if requests_per_minute:
            self._bucket(key_id, "requests", requests_per_minute).take(1, now)
        if tokens_per_minute:
            self._bucket(key_id, "tokens", tokens_per_minute).take(tokens, now)
        return 0

    def settle(self, key_id: str, now: float, tokens_per_minute: int | None, extra: int) -> None:
        """After a request: charge the tokens used beyond what admission took."""
        if tokens_per_minute and extra:
            self._bucket(key_id, "tokens", tokens_per_minute).take(extra, now)
