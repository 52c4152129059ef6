"""Token buckets for the platforms' sending limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0
    stamp: float = 0.0
    blocked_until: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
            return
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is there (0 if now)."""
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1

    def block(self, now: float, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, now + seconds)


@dataclass
class ChatLimiter:
    """A global bucket and one per chat, created on first use with the chat's own limit."""

    global_bucket: TokenBucket
    chat_bucket: Callable[[str], TokenBucket]
    clock: Callable[[], float] = time.monotonic
    chats: dict[str, TokenBucket] = field(default_factory=dict)

    def _chat(self, chat: str) -> TokenBucket:
        bucket = self.chats.get(chat)
        if bucket is None:
            bucket = self.chats[chat] = self.chat_bucket(chat)
        return bucket

    def wait_time(self, chat: str) -> float:
        now = self.clock()
        return max(self._chat(chat).wait_time(now), self.global_bucket.wait_time(now))

    def take(self, chat: str) -> None:
        now = self.clock()
        self._chat(chat).take(now)
        self.global_bucket.take(now)

    def block(self, chat: str, seconds: float) -> None:
        self._chat(chat).block(self.clock(), seconds)


def telegram_limiter(clock: Callable[[], float] = time.monotonic) -> ChatLimiter:
    """Telegram: about 30 messages/s overall, 1/s in a private chat, 20/min in a group (short bursts allowed)."""

    def per_chat(chat: str) -> TokenBucket:
        if chat.startswith("-"):
            return TokenBucket(rate=20 / 60, capacity=3)
        return TokenBucket(rate=1.0, capacity=1)

    return ChatLimiter(global_bucket=TokenBucket(rate=30.0, capacity=30), chat_bucket=per_chat, clock=clock)


def vk_limiter(clock: Callable[[], float] = time.monotonic) -> ChatLimiter:
    """VK: vk-api already keeps each token's rate (20/s community, 3/s user); one message a second per place
    keeps a burst of answers under one post from looking like spam."""
    return ChatLimiter(
        global_bucket=TokenBucket(rate=15.0, capacity=15),
        chat_bucket=lambda _chat: TokenBucket(rate=1.0, capacity=3),
        clock=clock,
    )
