"""A real `python -m gateway worker` SIGKILLed: mid SMS send, mid payment push, and idle.

The fake AT API and the fake Daraja hold the request open, so the kill lands mid-call (they
count the request on arrival). A fresh worker takes over; nothing is sent twice and nothing
is lost, guarded by the message and intent states. The dead worker's scheduler lock (61 s)
is not touched here: the new worker clears it itself (gateway/rq_liveness.py) and runs the
scheduler. The expiry of the dead worker's started job (the job timeout, 180 s) is
fast-forwarded instead of waited for; the README gives the real delay.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from rq import Queue
from rq.exceptions import SchedulerNotFound
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler

import runtime
from fakes.africastalking import Behaviour, FakeAfricasTalking
from fakes.daraja import FakeDaraja
from gateway.config import Settings
from gateway.queues import QueueNames
from payments.model import IntentStatus
from payments.queues import PAYMENTS_QUEUE
from runtime import keys
from sms.service import SmsService
from sms.store import Message, MessageStore, Status
from tests.chaos.conftest import worker_env
from tests.payments.conftest import MPESA_PHONE, Payments

pytestmark = pytest.mark.slow  # starts and stops real processes

ROOT = Path(__file__).resolve().parents[2]
PAY_TOKEN = "chaos-payment-token-0123456789"
HOLD = 30.0  # the fakes keep the request open this long: the kill lands inside it


def _wait(what: str, done: Callable[[], bool], timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


class Workers:
    """Start `python -m gateway worker` processes; SIGKILL or stop them."""

    def __init__(self, env: dict[str, str], queues: str) -> None:
        self.env = env
        self.queues = queues
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "worker", "--queues", self.queues],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # its own group: the kill reaches the work horse too
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker, its scheduler (its process group) and its work horse (rq forks
        it into a session of its own)."""
        pids = [*_children(process.pid), process.pid]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        # As a process manager sees it: every process of the worker gone before the restart.
        _wait("the killed processes to exit", lambda: not any(_running(pid) for pid in pids))

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                for pid in _children(process.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGTERM)
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _wait_for_scheduler(client: redis.Redis, name: str) -> RQScheduler:
    found: list[RQScheduler] = []

    def born() -> bool:
        with contextlib.suppress(SchedulerNotFound):
            found.append(RQScheduler.fetch(name, client))
        return bool(found) and found[-1].pid > 0

    _wait(f"scheduler {name} to start", born)
    return found[-1]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}  # a zombie has exited


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid ...: comm may hold spaces, so split after the ")".
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _fast_forward_rq(client: redis.Redis, queue: str) -> None:
    # The dead worker's started job would be declared abandoned after 180 s.
    StartedJobRegistry(queue, connection=client).cleanup(timestamp=time.time() + 10_000)


def _env(config: dict[str, Any]) -> dict[str, str]:
    names = {f.name: f.metadata["env"] for f in Settings.__dataclass_fields__.values()}
    return worker_env(**{names[k]: str(v) for k, v in config.items()})


def _sent(message: Message | None) -> bool:
    return message is not None and message.status is Status.SENT


def test_worker_killed_mid_sms(
    app: Flask, config: dict[str, Any], fake_at: FakeAfricasTalking, figures: dict[str, Any]
) -> None:
    sms = runtime.current().get(SmsService)
    store = runtime.current().get(MessageStore)
    client = runtime.current().get(redis.Redis)
    phones = [f"+24381000660{n}" for n in range(3)]
    fake_at.script(Behaviour(delay_seconds=HOLD))  # the first request hangs
    ids = [
        sms.send(
            p, "otp", {"code": "123456", "minutes": 5}, idempotency_key=f"chaos-{p}"
        ).message_id
        for p in phones
    ]
    workers = Workers(_env(config), "sms")
    try:
        first = workers.start()
        _wait("the first send to reach AT", lambda: len(fake_at.received) >= 1)
        workers.kill(first)
        killed_at = time.monotonic()
        # Two drain threads race, so the held request may be any of the three messages.
        hung = phones.index(fake_at.received[0].form["to"])
        assert store.get(ids[hung]).status == Status.SENDING  # type: ignore[union-attr]
        _fast_forward_rq(client, keys.queue("sms"))
        workers.start()
        settled = _wait(
            "every message to settle",
            lambda: all(
                store.get(i).status not in (Status.QUEUED, Status.SENDING)  # type: ignore[union-attr]
                for i in ids
            ),
        )
    finally:
        workers.stop_all()
    sends = {p: len(fake_at.sent_to(p)) for p in phones}
    statuses = {p: store.get(i).status.value for p, i in zip(phones, ids, strict=True)}  # type: ignore[union-attr]
    figures.update(
        {
            "messages": len(ids),
            "sends seen by the fake AT, per message": list(sends.values()),
            "duplicate sends": sum(max(n - 1, 0) for n in sends.values()),
            "messages lost (never reached AT)": sum(1 for n in sends.values() if n == 0),
            "statuses": list(statuses.values()),
            "kill to every message settled, s": round(time.monotonic() - killed_at, 2),
            "of which waiting for the new worker and the sweep, s": round(settled, 2),
        }
    )
    assert list(sends.values()) == [1, 1, 1]
    # The interrupted one reached AT but its answer was lost with the worker: at-most-once.
    assert statuses[phones[hung]] == "failed"
    assert store.get(ids[hung]).reason == "interrupted: outcome unknown"  # type: ignore[union-attr]
    # A drain job sends on two threads, so the kill may also catch the other thread mid-call:
    # such a message is marked interrupted too, never sent again; the rest are sent.
    for phone, message_id in zip(phones, ids, strict=True):
        reason = store.get(message_id).reason  # type: ignore[union-attr]
        assert statuses[phone] == "sent" or reason == "interrupted: outcome unknown", phone


def test_worker_killed_mid_payment_push(
    app: Flask,
    config: dict[str, Any],
    fake_daraja: FakeDaraja,
    fake_at: FakeAfricasTalking,
    figures: dict[str, Any],
) -> None:
    client = runtime.current().get(redis.Redis)
    payments = Payments(app, client, fake_daraja)
    fake_daraja.state.hang_next_push = HOLD
    started = payments.start(5000, operator="mpesa")
    assert started.intent is not None
    intent_id = started.intent.id
    workers = Workers(_env(config), "payments,sms")
    try:
        first = workers.start()
        _wait("the push to reach Daraja", lambda: fake_daraja.push_count() >= 1)
        workers.kill(first)
        killed_at = time.monotonic()
        assert payments.intent(intent_id).status is IntentStatus.PUSHING
        _fast_forward_rq(client, PAYMENTS_QUEUE)  # rq retries the abandoned push job
        workers.start()
        _wait(
            "the retried push job to run",
            lambda: (
                not Queue(
                    keys.queue(PAYMENTS_QUEUE), connection=client
                ).scheduled_job_registry.count
                and not Queue(keys.queue(PAYMENTS_QUEUE), connection=client).count
            ),
        )
        time.sleep(0.5)  # let a (wrong) second push show up at the fake if it were coming
        # Daraja calls back (its CallBackURL names the intent): the payment completes.
        assert fake_daraja.deliver_callbacks() == [200]
        _wait("the payment to settle", lambda: payments.intent(intent_id).settled_at is not None)
        _wait(
            "the receipt SMS to be sent",
            lambda: _sent(payments.sms(f"payment-receipt:{intent_id}")),
        )
    finally:
        workers.stop_all()
    final = payments.intent(intent_id)
    receipt = payments.sms(f"payment-receipt:{intent_id}")
    figures.update(
        {
            "pushes seen by the fake Daraja": fake_daraja.push_count(MPESA_PHONE.lstrip("+")),
            "duplicate pushes": fake_daraja.push_count() - 1,
            "payments lost": 0 if final.status is IntentStatus.SUCCEEDED else 1,
            "intent": final.status.value,
            "assessment recorded paid": payments.paid(final.assessment_id),
            "receipt SMS": receipt.status.value if receipt else "none",
            "receipts sent": len(fake_at.sent_to(MPESA_PHONE)),
            "kill to settled, s": round(time.monotonic() - killed_at, 2),
        }
    )
    assert fake_daraja.push_count() == 1
    assert final.status is IntentStatus.SUCCEEDED
    assert payments.paid(final.assessment_id)
    assert receipt is not None
    assert len(fake_at.sent_to(MPESA_PHONE)) == 1


def test_worker_killed_and_restarted_5s_later_runs_scheduled_jobs_within_seconds(
    app: Flask, config: dict[str, Any], figures: dict[str, Any]
) -> None:
    client = runtime.current().get(redis.Redis)
    lock = RQScheduler.get_locking_key(keys.queue(QueueNames.DEFAULT))
    workers = Workers(_env(config), QueueNames.DEFAULT)
    try:
        first = workers.start()
        _wait("the first worker's scheduler to hold the lock", lambda: bool(client.exists(lock)))
        dead_holder = client.get(lock)
        assert dead_holder is not None
        # The worker takes the lock, then forks the scheduler process: kill both.
        scheduler = _wait_for_scheduler(client, dead_holder.decode())
        workers.kill(first)  # the worker and its scheduler process, as an OOM kill does
        killed = time.monotonic()
        _wait("the scheduler process to die", lambda: not _running(scheduler.pid))
        # A process manager restarts the worker 5 s later; meanwhile a delayed job comes due.
        time.sleep(5)
        assert client.get(lock) == dead_holder  # rq would keep it for another ~56 s
        job = Queue(keys.queue(QueueNames.DEFAULT), connection=client).enqueue_in(
            timedelta(seconds=1), "tests.gateway.sample_jobs.remember", "after-kill", "ran"
        )
        restarted = time.monotonic()
        workers.start()
        # Well under the 61 s the dead lock would live: only clearing it lets the job run.
        ran = _wait(
            "the scheduled job to run",
            lambda: client.lrange("after-kill", 0, -1) == [b"ran"],
            timeout=30.0,
        )
        new_holder = client.get(lock)
    finally:
        workers.stop_all()
    figures.update(
        {
            "worker restarted after the kill, s": 5,
            "restart to the scheduled job run (due 1 s after the restart), s": round(ran, 2),
            "kill to the scheduled job run, s": round(ran + restarted - killed, 2),
            "dead scheduler's lock cleared by the new worker": new_holder != dead_holder,
        }
    )
    assert new_holder is not None and new_holder != dead_holder
    assert (
        job.id
        not in Queue(keys.queue(QueueNames.DEFAULT), connection=client).scheduled_job_registry
    )
