"""Many nodes, one platform: plan reloads and list updates reach every node, and each node says
when its shared state (Redis) is unreachable.

A node that reloads its plan (`ReloadPlan`, SIGHUP, `--watch`) or updates a list (`UpdateList`)
publishes the change on the Redis channel `{prefix}:changes`; every other node subscribed there
applies it (the same reload, the same list update) without publishing again. Every answer still
names the plan version it was decided on, so a switch can see which nodes have moved on.

A plan reload by `path` is re-read by each node from that path (the nodes share the plan file,
or each has a copy at the same place); a reload by `text` carries the text. List updates are
persisted once (by the node that took them, in the shared record store) and applied in memory
by the others.

The subscriber reconnects by itself (with a pause) when Redis goes away; changes published
while a node was disconnected are not replayed by Redis: the node reloads its plan file on
reconnecting and re-reads the persisted list changes (the record store has them all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import orjson

__all__ = ["Broadcast", "StateWatch"]

log = logging.getLogger("routecore.cluster")


class Broadcast:
    """Publishes this node's plan and list changes and applies the other nodes' (see the module).

    Args:
        url: the Redis URL (`redis://host:port/db`), usually the one of `--state`.
        prefix: the platform's key prefix; the channel is `{prefix}:changes`.
    """

    def __init__(self, url: str, prefix: str = "routecore", *, retry: float = 0.5) -> None:
        import redis.asyncio as aioredis

        self.channel = f"{prefix}:changes"
        self.node = uuid.uuid4().hex
        self.retry = retry
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        # The subscriber waits for messages indefinitely: no read timeout, but a PING when idle
        # (health checks) so that a dead connection is noticed.
        self._sub = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=None, health_check_interval=5
        )

    async def publish(self, kind: str, **fields: Any) -> None:
        """Tells the other nodes; never raises (a node that misses it catches up on reconnect)."""
        message = orjson.dumps({"kind": kind, "node": self.node, **fields})
        try:
            await self._redis.publish(self.channel, message)
        except Exception as exc:
            log.warning("broadcast: %s not published (Redis unreachable: %r)", kind, exc)

    async def run(self, service: Any) -> None:
        """Applies the other nodes' changes to `service` until cancelled; reconnects by itself."""
        first = True
        while True:
            pubsub = self._sub.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                if not first:
                    # Changes published while we were away are gone: catch up from the sources.
                    log.info("broadcast: resubscribed; catching up", extra={"event": "broadcast_resync"})
                    await service.catch_up("broadcast resync")
                first = False
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        await self._apply(service, message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("broadcast: subscription lost (%r); retrying", exc)
                await asyncio.sleep(self.retry)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _apply(self, service: Any, data: bytes) -> None:
        try:
            change = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("broadcast: a message that is not JSON was ignored")
            return
        if change.get("node") == self.node:
            return
        try:
            if change.get("kind") == "plan":
                await service.reload(change["which"], change["value"], cause="broadcast", publish=False)
            elif change.get("kind") == "list":
                await service.apply_list_update(change["name"], change["add"], change["remove"])
        except Exception as exc:  # one bad change must not stop the subscriber
            log.error("broadcast: change %s not applied: %r", change.get("kind"), exc, exc_info=exc)

    async def close(self) -> None:
        for client in (self._redis, self._sub):
            with contextlib.suppress(Exception):
                await client.aclose()


class StateWatch:
    """Logs when the engine's shared state (Redis) becomes unreachable and when it is back
    (the counters are in `/metrics`: `routecore_state_*`)."""

    def __init__(self, service: Any, interval: float = 0.5) -> None:
        self.service = service
        self.interval = interval

    async def run(self) -> None:
        healthy = True
        while True:
            await asyncio.sleep(self.interval)
            engine = self.service.engine
            status = engine.state_status() if engine is not None else None
            if status is None:
                continue
            if healthy and not status["healthy"]:
                log.error(
                    "state: Redis unreachable (%s); routing on this node's own state: caps and "
                    "per-caller limits fail open until it is back",
                    status["last_error"],
                    extra={"event": "state_down"},
                )
            elif not healthy and status["healthy"]:
                log.warning(
                    "state: Redis reachable again; %d call event(s) replayed so far, %d fallback step(s)",
                    status["replayed"],
                    status["fallbacks"],
                    extra={"event": "state_up"},
                )
            healthy = status["healthy"]
