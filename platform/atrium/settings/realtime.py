"""Channels: the Redis channel layer that carries outbox events to websockets; pulled into base.py."""

import os
from typing import Any

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ["REDIS_URL"]],
            "prefix": "atrium",
            "capacity": 200,  # per socket; a socket that stops reading loses events past this
            "expiry": 60,
        },
    }
}

# Where pages open their websockets: the page's own host and port (nginx routes `/ws/` to the ASGI
# server) unless this names another port (the demo serves websockets on the port after HTTP's).
WEBSOCKET_PUBLIC_PORT = os.environ.get("WEBSOCKET_PUBLIC_PORT", "")
