"""An append-only spool on disk for events Kafka could not take.

``events.log`` holds one JSON line per record; ``cursor`` holds the byte
offset up to which records reached Kafka. Draining sends from the cursor and
moves it only after Kafka acknowledged, so a crash re-sends at most one chunk
(consumers drop the copies by event_id). Once fully drained both files are
reset. Methods block on disk: call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = ["Spool", "SpoolRecord"]


@dataclass(frozen=True)
class SpoolRecord:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    spooled_at: float

    def to_line(self) -> bytes:
        return (
            orjson.dumps(
                {
                    "t": self.topic,
                    "k": self.key.decode(),
                    "v": self.value.decode(),
                    "h": [[k, v.decode()] for k, v in self.headers],
                    "s": self.spooled_at,
                }
            )
            + b"\n"
        )

    @classmethod
    def from_line(cls, line: bytes) -> SpoolRecord:
        raw = orjson.loads(line)
        return cls(
            raw["t"],
            raw["k"].encode(),
            raw["v"].encode(),
            tuple((k, v.encode()) for k, v in raw["h"]),
            raw["s"],
        )


class Spool:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._log = folder / "events.log"
        self._cursor_path = folder / "cursor"
        self._log.touch()
        _drop_torn_tail(self._log)
        self._cursor = int(self._cursor_path.read_text() or 0) if self._cursor_path.exists() else 0
        self._size = self._log.stat().st_size
        if self._cursor > self._size:  # a log reset after the cursor was written
            self._cursor = self._size
        self._oldest: float | None = None

    @property
    def empty(self) -> bool:
        return self._cursor >= self._size

    @property
    def pending_bytes(self) -> int:
        return self._size - self._cursor

    def append(self, records: list[SpoolRecord]) -> None:
        if not records:
            return
        data = b"".join(r.to_line() for r in records)
        with self._log.open("ab") as log:
            log.write(data)
            log.flush()
            os.fsync(log.fileno())
        self._size += len(data)
        if self._oldest is None:
            self._oldest = records[0].spooled_at

    def read(self, limit: int = 500) -> tuple[list[SpoolRecord], int]:
        """Up to ``limit`` records from the cursor, and the offset just after them."""
        records: list[SpoolRecord] = []
        offset = self._cursor
        with self._log.open("rb") as log:
            log.seek(offset)
            for line in log:
                if not line.endswith(b"\n"):
                    break  # a torn last line from a crash mid-write: never acknowledged
                records.append(SpoolRecord.from_line(line))
                offset += len(line)
                if len(records) >= limit:
                    break
        return records, offset

    def ack(self, offset: int) -> None:
        """Records before ``offset`` are in Kafka."""
        self._cursor = offset
        if self._cursor >= self._size:
            self._log.write_bytes(b"")
            self._size = self._cursor = 0
            self._oldest = None
        else:
            self._oldest = None  # recomputed lazily by oldest_age
        tmp = self._cursor_path.with_suffix(".tmp")
        tmp.write_text(str(self._cursor))
        os.replace(tmp, self._cursor_path)

    def oldest_age(self, now: float | None = None) -> float:
        """Seconds the oldest undrained record has waited (0 when empty)."""
        if self.empty:
            return 0.0
        if self._oldest is None:
            records, _ = self.read(1)
            self._oldest = records[0].spooled_at if records else time.time()
        return max(0.0, (now or time.time()) - self._oldest)


def _drop_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a crash mid-write, so appends start clean."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as log:
            log.truncate(data.rfind(b"\n") + 1)
