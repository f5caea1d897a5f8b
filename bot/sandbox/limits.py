"""Flood limits modelled on Telegram's published guidance, as token buckets.

Telegram documents roughly one message per second per private chat (short bursts
are tolerated), twenty per minute per group, and about thirty per second across
all chats.  A bucket per scope reproduces both the burst allowance and the
``retry_after`` a bot must honour, so reminder fan-outs can be tested for real.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["RateLimiter", "RateLimits"]


@dataclass(frozen=True)
class RateLimits:
    """Limits for message-producing calls; ``RateLimits.off()`` disables them."""

    enabled: bool = True
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: float = 20.0
    per_group_burst: int = 20
    global_per_second: float = 30.0
    global_burst: int = 30

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)

    def __post_init__(self) -> None:
        rates = (self.per_chat_per_second, self.per_group_per_minute, self.global_per_second)
        bursts = (self.per_chat_burst, self.per_group_burst, self.global_burst)
        if min(rates) <= 0 or min(bursts) < 1:
            raise ValueError("rates must be positive and bursts at least 1")


@dataclass
class _Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def seconds_until_token(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class RateLimiter:
    """Decides whether one more message may go out now, or how long to wait."""

    limits: RateLimits
    clock: Callable[[], float] = time.monotonic
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    _global: _Bucket | None = None

    def acquire(self, chat_id: int, *, is_group: bool) -> int | None:
        """Take a token for ``chat_id``; returns None, or the whole seconds to retry after.

        All buckets are checked before any is charged, so a rejected call does not
        eat into the allowance of the scopes that would have let it through.
        """
        if not self.limits.enabled:
            return None
        now = self.clock()
        buckets = [self._chat_bucket(chat_id, is_group, now), self._global_bucket(now)]
        wait = 0.0
        for bucket in buckets:
            bucket.refill(now)
            wait = max(wait, bucket.seconds_until_token())
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1.0
        return None

    def reset(self) -> None:
        self._chats.clear()
        self._global = None

    def _chat_bucket(self, chat_id: int, is_group: bool, now: float) -> _Bucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if is_group:
                rate, burst = self.limits.per_group_per_minute / 60.0, self.limits.per_group_burst
            else:
                rate, burst = self.limits.per_chat_per_second, self.limits.per_chat_burst
            bucket = _Bucket(rate, float(burst), float(burst), now)
            self._chats[chat_id] = bucket
        return bucket

    def _global_bucket(self, now: float) -> _Bucket:
        if self._global is None:
            burst = float(self.limits.global_burst)
            self._global = _Bucket(self.limits.global_per_second, burst, burst, now)
        return self._global
