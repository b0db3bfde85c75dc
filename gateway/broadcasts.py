"""Broadcasts started from the console: the list kept sealed in Redis, run as an rq job.

`python -m gateway sms broadcast` reads its CSV from a file and draws its progress on a
terminal; a supervisor uploads the CSV in the console instead, so the rows are kept here
(sealed: they are phone numbers) for the job on the sms queue, and the progress lives next to
them for the page's progress bar. The sending itself is sms.broadcast.Broadcaster's: one
idempotency key per (broadcast, phone) and a checkpoint after each row, so a stopped or
crashed broadcast resumes at its next row and never texts a phone twice.

Keys: `console:broadcast:<id>` (a hash: template, params, sealed rows, counters, state),
beside Broadcaster's checkpoint `sms:broadcast:<id>`; both expire with CHECKPOINT_TTL.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import redis

import runtime
from gateway.config import Settings
from menus.model import MenuSpec
from runtime import keys
from runtime.jobs import Jobs
from runtime.sealing import Sealer
from sms.broadcast import CHECKPOINT_TTL, Broadcaster, BroadcastProgress
from sms.queues import SMS_QUEUE
from sms.service import SmsService
from sms.store import text
from sms.templates import TemplateError

log = logging.getLogger(__name__)

JOB_TIMEOUT_SECONDS: Final = 6 * 3600
COUNTERS: Final = ("queued", "refused", "invalid")


# Move the state only from the expected one.
_CAS: Final = """
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2])
return 1
"""


class State(StrEnum):
    """Where a console broadcast stands."""

    RUNNING = "running"  # queued or sending
    STOPPING = "stopping"  # a person asked to stop; the job stops before its next row
    STOPPED = "stopped"  # resumable
    DONE = "done"
    FAILED = "failed"  # the template refused the rows' parameters


@dataclass(frozen=True, slots=True)
class Progress:
    """What the console shows of a broadcast."""

    broadcast_id: str
    template: str
    total: int
    done: int
    queued: int
    refused: int
    invalid: int
    state: State
    started_by: str
    started_at: int

    @property
    def percent(self) -> int:
        """Return the rows handled, in percent (100 for an empty list)."""
        return 100 * self.done // self.total if self.total else 100

    def as_json(self) -> dict[str, object]:
        """Return what the progress endpoint answers."""
        return {
            "id": self.broadcast_id,
            "template": self.template,
            "total": self.total,
            "done": self.done,
            "queued": self.queued,
            "refused": self.refused,
            "invalid": self.invalid,
            "state": self.state.value,
            "percent": self.percent,
        }


def _spec_key(broadcast: str) -> str:
    return keys.key("console", "broadcast", broadcast)


def _checkpoint_key(broadcast: str) -> str:
    return keys.key("sms", "broadcast", broadcast)


def _index_key() -> str:
    return keys.key("console", "broadcasts")


class BroadcastDesk:
    """Start, follow, stop and resume broadcasts for the console."""

    def __init__(self, client: redis.Redis, sealer: Sealer, jobs: Jobs) -> None:
        self._redis = client
        self._sealer = sealer
        self._jobs = jobs
        self._cas = client.register_script(_CAS)

    def start(
        self, template: str, rows: list[dict[str, str]], params: Mapping[str, str], started_by: str
    ) -> str:
        """Keep the list (sealed), queue the job and return the broadcast's id."""
        broadcast = f"c{secrets.token_hex(8)}"
        key = _spec_key(broadcast)
        now = int(time.time())
        pipe = self._redis.pipeline()
        pipe.hset(
            key,
            mapping={
                "template": template,
                "params": json.dumps(dict(params), ensure_ascii=False),
                "rows": self._sealer.seal(json.dumps(rows, ensure_ascii=False)) or "",
                "total": len(rows),
                "state": State.RUNNING.value,
                "started_by": started_by,
                "started_at": now,
                **dict.fromkeys(COUNTERS, 0),
            },
        )
        pipe.expire(key, CHECKPOINT_TTL)
        pipe.zadd(_index_key(), {broadcast: now})
        pipe.expire(_index_key(), CHECKPOINT_TTL)
        pipe.execute()
        self._enqueue(broadcast)
        return broadcast

    def _enqueue(self, broadcast: str) -> None:
        self._jobs.enqueue(
            SMS_QUEUE,
            run_broadcast,
            broadcast,
            timeout_seconds=JOB_TIMEOUT_SECONDS,
            job_id=f"broadcast-{broadcast}-{secrets.token_hex(4)}",
        )

    def progress(self, broadcast: str) -> Progress | None:
        """Return where a broadcast stands, None when unknown (or expired)."""
        raw = self._redis.hgetall(_spec_key(broadcast))
        if not raw:
            return None
        spec = {text(k): text(v) for k, v in raw.items() if text(k) != "rows"}
        done = self._redis.hget(_checkpoint_key(broadcast), "done")
        return Progress(
            broadcast_id=broadcast,
            template=spec.get("template", ""),
            total=int(spec.get("total", "0")),
            done=int(text(done)) if done is not None else 0,
            queued=int(spec.get("queued", "0")),
            refused=int(spec.get("refused", "0")),
            invalid=int(spec.get("invalid", "0")),
            state=State(spec.get("state", State.FAILED.value)),
            started_by=spec.get("started_by", ""),
            started_at=int(spec.get("started_at", "0")),
        )

    def recent(self, limit: int = 20) -> list[Progress]:
        """Return the newest broadcasts, newest first."""
        found: list[bytes] = self._redis.zrevrange(_index_key(), 0, limit - 1)  # type: ignore[assignment]
        ids = [text(i) for i in found]
        return [p for p in (self.progress(i) for i in ids) if p is not None]

    def stop(self, broadcast: str) -> bool:
        """Ask the running job to stop before its next row; False unless it was running."""
        return self._move(broadcast, State.RUNNING, State.STOPPING)

    def resume(self, broadcast: str) -> bool:
        """Queue the job again from the checkpoint; False unless the broadcast was stopped."""
        if not self._move(broadcast, State.STOPPED, State.RUNNING):
            return False
        self._enqueue(broadcast)
        return True

    def _move(self, broadcast: str, from_state: State, to_state: State) -> bool:
        # One step in Redis: two supervisors clicking at once move it once.
        moved = self._cas(keys=[_spec_key(broadcast)], args=[from_state.value, to_state.value])
        return bool(moved)

    def run(self, broadcast: str, broadcaster: Broadcaster) -> Progress | None:
        """Send the rows from the checkpoint on, until done or stopped (the job's body)."""
        key = _spec_key(broadcast)
        raw = self._redis.hmget(key, ["template", "params", "rows", "state"])
        if raw[0] is None or raw[3] is None:
            return None
        state = State(text(raw[3]))
        if state is State.STOPPING:
            self._redis.hset(key, "state", State.STOPPED.value)
        if state is not State.RUNNING:
            return self.progress(broadcast)
        template, params = text(raw[0]), json.loads(text(raw[1] or b"{}"))
        rows = json.loads(self._sealer.open(text(raw[2] or b"")) or "[]")
        seen = dict.fromkeys(COUNTERS, 0)

        def count(progress: BroadcastProgress) -> None:
            # Counters add up over runs: a resumed run starts its own at zero.
            pipe = self._redis.pipeline()
            for name in COUNTERS:
                now = int(getattr(progress, name))
                if now != seen[name]:
                    pipe.hincrby(key, name, now - seen[name])
                    seen[name] = now
            pipe.execute()

        def stopping() -> bool:
            return text(self._redis.hget(key, "state") or b"") == State.STOPPING.value

        try:
            result = broadcaster.run(
                broadcast, template, rows, params, on_progress=count, should_stop=stopping
            )
        except TemplateError as error:
            log.warning("broadcast %s: %s", broadcast, error)
            self._redis.hset(key, "state", State.FAILED.value)
            return self.progress(broadcast)
        self._redis.hset(key, "state", State.DONE.value if result.finished else State.STOPPED.value)
        return self.progress(broadcast)


def desk(services: runtime.Container) -> BroadcastDesk:
    """Return the broadcast desk of a process's container."""
    settings = services.get(Settings)
    return BroadcastDesk(
        services.get(redis.Redis),
        Sealer.from_setting(settings.personal_data_keys),
        services.get(Jobs),  # type: ignore[type-abstract]
    )


def run_broadcast(broadcast: str) -> str:
    """rq job: send a console broadcast from its checkpoint on; return its state."""
    services = runtime.current()
    broadcaster = Broadcaster(
        services.get(SmsService), services.get(redis.Redis), services.get(MenuSpec).city.country
    )
    progress = desk(services).run(broadcast, broadcaster)
    return progress.state.value if progress is not None else "unknown"
