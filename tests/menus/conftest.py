"""The engine on a real Redis: a test menus file, test actions, a phone that dials like AT."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

import runtime
from menus.actions import core
from menus.hop import HopHandler, UssdReply, UssdRequest
from menus.loader import load_menus
from menus.model import MenuSpec
from menus.registry import ActionContext, ActionResult, Effect, Option, Registry
from sessions.session import Session
from sessions.store import SessionStore, lock_key, session_key

FIXTURES = Path(__file__).parent / "fixtures"
TEST_MENUS = FIXTURES / "test_menus.yaml"
PHONE = "+243810000001"


@dataclass
class SlowGate:
    """Lets a test hold an action mid-hop (to prove hops of one session are serialised)."""

    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    calls: int = 0


def build_registry() -> Registry:
    """Return a registry with the engine's core actions and the test actions."""
    registry = Registry()
    registry.register("core.set_language", outcomes={"ok", "unknown"})(core.set_language)

    @registry.register("test.items", option_label_max=12)
    def items(ctx: ActionContext) -> ActionResult:
        count = int(ctx.data["count"])
        return ActionResult(
            options=[Option(value=f"item-{n}", label=f"Item {n}") for n in range(1, count + 1)]
        )

    @registry.register("test.empty")
    def empty(ctx: ActionContext) -> ActionResult:
        return ActionResult(options=[])

    @registry.register("test.lookup", outcomes={"found", "not_found"})
    def lookup(ctx: ActionContext) -> ActionResult:
        ref = str(ctx.data["ref"])
        if ref.startswith("9"):
            return ActionResult(outcome="not_found")
        return ActionResult(
            outcome="found",
            data={"name": f"Name {ref}"},
            effects=[
                Effect(
                    queue="default",
                    func="tests.menus.jobs.notify",
                    args=(ref,),
                    job_id=f"lookup-{ctx.session_id}-{ref}",
                )
            ],
        )

    @registry.register("test.boom")
    def boom(ctx: ActionContext) -> ActionResult:
        raise RuntimeError("the back office is down")

    @registry.register("test.slow")
    def slow(ctx: ActionContext) -> ActionResult:
        gate = ctx.services.get(SlowGate)
        gate.calls += 1
        gate.started.set()
        gate.release.wait(10)
        return ActionResult()

    return registry


@dataclass
class Recorded:
    """An effect as the enqueuer saw it, with the session as Redis held it at that moment."""

    effect: Effect
    session: Session | None
    locked: bool


class RecordingEnqueuer:
    """A fake of the rq seam: records effects and what Redis held when each arrived."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.recorded: list[Recorded] = []

    def enqueue(self, effect: Effect) -> None:
        """Record `effect` and the saved session of the hop that produced it."""
        session_id = str(effect.job_id).split("-")[1]
        blob = self.client.get(session_key(session_id))
        locked = bool(self.client.exists(lock_key(session_id)))
        self.recorded.append(Recorded(effect, Session.decode(blob) if blob else None, locked))


@pytest.fixture
def spec() -> MenuSpec:
    """Return the compiled test menus."""
    return load_menus(TEST_MENUS, build_registry())


@pytest.fixture
def gate() -> SlowGate:
    """Return the gate the slow action waits on."""
    return SlowGate()


@pytest.fixture
def enqueuer(redis_client: redis.Redis) -> RecordingEnqueuer:
    """Return an enqueuer that records effects."""
    return RecordingEnqueuer(redis_client)


HandlerFactory = Callable[..., HopHandler]


@pytest.fixture
def make_handler(
    spec: MenuSpec, redis_client: redis.Redis, enqueuer: RecordingEnqueuer, gate: SlowGate
) -> HandlerFactory:
    """Return a factory of hop handlers on the test Redis (store options overridable)."""

    def build(**store_options: Any) -> HopHandler:
        options: dict[str, Any] = {"ttl_seconds": 120, "resume_window_seconds": 300}
        options.update(store_options)
        services = runtime.Container()
        services.register(SlowGate, gate)
        store = SessionStore(redis_client, **options)
        return HopHandler(spec, store, enqueuer, services, registry=build_registry())

    return build


@pytest.fixture
def handler(make_handler: HandlerFactory) -> HopHandler:
    """Return a hop handler with the default store options."""
    return make_handler()


class Phone:
    """A handset on Africa's Talking: one session id, `text` accumulated with `*`."""

    def __init__(self, handler: HopHandler, msisdn: str = PHONE, session: str = "s1") -> None:
        self.handler = handler
        self.msisdn = msisdn
        self.session = session
        self.text = ""
        self.reply: UssdReply | None = None

    def request(self) -> UssdRequest:
        """Return the request for the current text."""
        return UssdRequest(self.session, self.msisdn, "*384*99#", "63902", self.text)

    def dial(self, session: str | None = None) -> UssdReply:
        """Start a session (a new session id when given) and return the first screen."""
        if session is not None:
            self.session = session
        self.text = ""
        return self._send()

    def type(self, *inputs: str) -> UssdReply:
        """Type each input in turn, as separate hops; return the last reply."""
        for value in inputs:
            self.text = value if not self.text else f"{self.text}*{value}"
            self._send()
        assert self.reply is not None
        return self.reply

    def resend(self) -> UssdReply:
        """Send the last hop again, as an aggregator retry does."""
        return self._send()

    def _send(self) -> UssdReply:
        self.reply = self.handler.handle(self.request())
        return self.reply


@pytest.fixture
def phone(handler: HopHandler) -> Phone:
    """Return a phone on the default handler."""
    return Phone(handler)


def stored(client: redis.Redis, session_id: str) -> Session | None:
    """Return the session as Redis holds it."""
    blob = client.get(session_key(session_id))
    return Session.decode(blob) if blob else None
