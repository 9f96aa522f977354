"""Message ids that stay unique across restarts.

A 64-bit value in the manner of a "snowflake": milliseconds since the epoch
(from the service's clock) shifted left by 22 bits, plus a counter within the
millisecond. The generator is monotonic: it never issues a value at or below
the last one, even when more than 4 million ids are taken in one millisecond
(it borrows from the next) or the clock steps back. After a restart the clock
has moved on, so new ids are above every id issued before; ``at_least`` lets
the server also seed it from the highest id it recovered.
"""

from __future__ import annotations

from typing import Protocol

SEQUENCE_BITS = 22


class _Clock(Protocol):
    def seconds(self) -> float: ...


class MessageIdGenerator:
    """``next()`` returns ids as lowercase hex (default) or decimal strings."""

    __slots__ = ("_at", "_clock", "_last", "format")

    def __init__(self, clock: _Clock, format: str = "hex") -> None:
        if format not in ("hex", "decimal"):
            raise ValueError(f"message id format must be 'hex' or 'decimal', not {format!r}")
        self._clock = clock
        self.format = format
        self._last = 0
        self._at = -1.0  # the time of the last next(), whose floor is at most _last

    def at_least(self, message_id: str) -> None:
        """Never issue an id at or below ``message_id`` (one this generator made)."""
        try:
            value = int(message_id, 16 if self.format == "hex" else 10)
        except ValueError:
            return
        self._last = max(self._last, value)

    def next_value(self) -> int:
        value = int(self._clock.seconds() * 1000) << SEQUENCE_BITS
        last = self._last
        if value <= last:
            value = last + 1
        self._last = value
        return value

    def next(self, now: float | None = None) -> str:
        """The next id; ``now`` saves asking the clock when the caller just did
        (the messages of one read share it: the same time as the previous
        call means the previous id plus one)."""
        last = self._last
        if now is not None and now == self._at:
            value = last + 1
        else:
            if now is None:
                now = self._clock.seconds()
            self._at = now
            value = int(now * 1000) << SEQUENCE_BITS
            if value <= last:
                value = last + 1
        self._last = value
        return hex(value)[2:] if self.format == "hex" else str(value)


def issued_at(message_id: str) -> float | None:
    """When an id made by :class:`MessageIdGenerator` was issued (seconds), or
    None for an id it did not make (``-N`` suffixes of submit_multi are ignored)."""
    base = message_id.split("-", 1)[0]
    for radix in (16, 10):
        try:
            value = int(base, radix)
        except ValueError:
            continue
        seconds = (value >> SEQUENCE_BITS) / 1000.0
        if 946684800.0 <= seconds <= 4102444800.0:  # 2000..2100: plausibly ours
            return seconds
    return None
