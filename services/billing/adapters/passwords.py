"""Members' passwords: argon2id (``argon2-cffi``, RFC 9106's second recommended profile:
64 MiB, 3 passes, 4 lanes; ~0.26 s a hash on this machine, 2026-12-02), hashed and checked
off the event loop, a few at a time, so sign-ins cannot starve the admin API of its cores.

An unknown email is checked against a dummy hash: answering it faster would tell an
attacker which addresses are members.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Busy", "Passwords"]

T = TypeVar("T")


class Busy(RuntimeError):
    """Too many hashes waiting: the caller answers 429 and the client retries."""


class Passwords:
    def __init__(self, concurrent: int = 2, waiting: int = 32) -> None:
        self._hasher = PasswordHasher()
        self._slots = asyncio.Semaphore(concurrent)
        self._waiting, self._max_waiting = 0, waiting
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no such member; still costs a hash)."""
        if stored is None:
            if self._dummy is None:
                self._dummy = await self.hash("not a member's password")
            stored = self._dummy
            await self._run(self._check, stored, password)
            return False
        return await self._run(self._check, stored, password)

    def _check(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        if self._waiting >= self._max_waiting:
            raise Busy("too many sign-ins at once")
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(fn, *args)
        finally:
            self._waiting -= 1
