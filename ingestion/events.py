"""Publish what ingestion landed to a Redis Stream that the dashboard and notifications follow."""

from __future__ import annotations

import json
from typing import Any

STREAM = "trading:events"
MAX_EVENTS = 10_000


class EventStream:
    """Appends events to the Redis Stream `trading:events` (the newest 10,000 are kept).

    The connection is opened on the first publish, not at construction.
    """

    def __init__(self, redis_url: str, stream: str = STREAM) -> None:
        self.redis_url = redis_url
        self.stream = stream
        self._client: Any = None

    def publish(self, event: str, **fields: Any) -> str:
        """Append one event and its fields (JSON unless text); returns the entry id."""
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(self.redis_url)
        entry = {"event": event} | {
            key: value if isinstance(value, str) else json.dumps(value, default=str)
            for key, value in fields.items()
        }
        return self._client.xadd(self.stream, entry, maxlen=MAX_EVENTS, approximate=True).decode()

    def close(self) -> None:
        """Close the connection if one was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None
