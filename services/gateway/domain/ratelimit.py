"""Token buckets per API key: requests per minute and tokens per minute.

Pure and clock-injected, so tests need no sleeping. Each gateway instance
keeps its own buckets, and keeps count of what its callers took from them
(``drain_use``) for the other instances, which take the same from theirs
(``take_remote``): a key's limits then hold across instances, give or take
what a report interval (plus Kafka's delivery) lets through before they hear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Bucket", "RateLimiter", "Use"]


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


@dataclass
class Use:
    """What one key took here since the last report, and its limits. ``tokens`` is net: a
    request that used fewer tokens than admission took gives the difference back."""

    requests: int
    tokens: int
    requests_per_minute: int | None
    tokens_per_minute: int | None


class RateLimiter:
    """Buckets keyed by (key_id, kind), created with the limit the plan gives."""

    def __init__(self, *, shared: bool = False) -> None:
        """``shared``: keep count of local use for ``drain_use`` (other instances read it)."""
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._use: dict[str, Use] = {}
        self._shared = shared

    def _note(
        self, key_id: str, requests: int, tokens: int, rpm: int | None, tpm: int | None
    ) -> None:
        if not self._shared:
            return
        use = self._use.get(key_id)
        if use is None:
            self._use[key_id] = Use(requests, tokens, rpm, tpm)
            return
        use.requests += requests
        use.tokens += tokens
        use.tokens_per_minute = tpm
        if requests:
            use.requests_per_minute = rpm

    @property
    def unreported(self) -> int:
        """Keys with use not drained yet."""
        return len(self._use)

    def drain_use(self) -> dict[str, Use]:
        """What callers took here since the last call, by key (limited keys only)."""
        use, self._use = self._use, {}
        return use

    def take_remote(
        self,
        key_id: str,
        now: float,
        requests_per_minute: int | None,
        tokens_per_minute: int | None,
        requests: int,
        tokens: int,
    ) -> None:
        """Take what another instance's callers took with this key (may go negative)."""
        if requests_per_minute and requests:
            self._bucket(key_id, "requests", requests_per_minute).take(requests, now)
        if tokens_per_minute and tokens:
            self._bucket(key_id, "tokens", tokens_per_minute).take(tokens, now)

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
        if requests_per_minute or tokens_per_minute:
            self._note(key_id, 1, tokens, requests_per_minute, tokens_per_minute)
        return 0

    def settle(self, key_id: str, now: float, tokens_per_minute: int | None, extra: int) -> None:
        """After a request: charge the tokens used beyond what admission took."""
        if tokens_per_minute and extra:
            self._bucket(key_id, "tokens", tokens_per_minute).take(extra, now)
            self._note(key_id, 0, extra, None, tokens_per_minute)
