"""Who failed to sign in lately: after ``MAX_FAILURES`` wrong passwords for one email within
``WINDOW``, that email is refused (429) until the oldest failure leaves the window. Slows a
password guesser to 5 tries in 15 minutes an address (OWASP's throttling advice) without
locking the member out for longer than that. Per billing process, in memory: a restart
forgets, which gives a guesser one more window, not more."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

__all__ = ["MAX_FAILURES", "WINDOW", "SignInThrottle"]

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
#: Emails tracked at once; beyond it the stalest are forgotten (memory stays bounded).
MAX_TRACKED = 100_000


class SignInThrottle:
    def __init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = {}

    def retry_after(self, email: str, now: datetime) -> float | None:
        """Seconds until ``email`` may try again, or None if it may now."""
        failures = self._failures.get(email)
        if failures is None:
            return None
        while failures and now - failures[0] >= WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[email]
            return None
        if len(failures) < MAX_FAILURES:
            return None
        return max((failures[0] + WINDOW - now).total_seconds(), 1.0)

    def failed(self, email: str, now: datetime) -> None:
        failures = self._failures.pop(email, None) or deque(maxlen=MAX_FAILURES)
        failures.append(now)
        self._failures[email] = failures  # re-inserted: the dict is oldest-first
        while len(self._failures) > MAX_TRACKED:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, email: str) -> None:
        self._failures.pop(email, None)
