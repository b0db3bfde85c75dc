"""One USSD hop: lock and load the session, walk the menu, save, then enqueue effects.

The flow per hop: one Redis round trip locks the session and loads it with the phone's
language and resume snapshot; the machine decides where the answer leads; actions run here
(never inside FSM callbacks); the reply is rendered; one round trip saves and unlocks; only
then are the actions' effects enqueued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import redis

import runtime
from menus.actions import default_registry
from menus.machine import EMPTY, FILL, PICK, RESOLVE, SELECT, SUBMIT, HopModel, MenuMachine
from menus.model import (
    BACK,
    HOME,
    NEXT_PAGE,
    PREVIOUS_PAGE,
    SKIP_FIELD,
    MenuSpec,
    Screen,
)
from menus.registry import (
    ActionContext,
    ActionResult,
    Effect,
    Enqueuer,
    FormField,
    Option,
    RegisteredAction,
    Registry,
)
from menus.render import Nav, Renderer, fits, option_keys
from menus.validators import field_check
from runtime import keys
from runtime.masking import mask_phone
from sessions.session import Session
from sessions.store import HopRateLimitedError, Loaded, ResumeMode, SessionStore
from sms.preferences import Preferences

log = logging.getLogger(__name__)

# The pseudo-screen of the "1. Continue 2. Start over" question after a dropped session.
RESUME_STATE: Final = "__resume__"
RESUME_CONTINUE, RESUME_RESTART = "1", "2"
# Actions chained without a screen in between: more means a loop in menus.yaml.
MAX_CHAIN: Final = 12
MAX_HISTORY: Final = 30
MAX_DIALLED: Final = 8  # answers replayed from a dial string; more is not a real shortcut
_JSON_SCALARS: Final = (str, int, float, bool, type(None))
# Session data keys of the form being walked: its fields (as JSON), the current one, its id.
FORM_FIELDS, FORM_STEP, FORM_SCREEN = "_form", "_form_step", "_form_screen"


@dataclass(frozen=True, slots=True)
class UssdRequest:
    """An aggregator-neutral USSD hop (the edge's adapter builds it)."""

    session_id: str
    msisdn: str  # E.164
    service_code: str
    network_code: str
    text: str  # as the aggregator sent it
    cumulative: bool = True  # Africa's Talking: everything typed so far joined by "*"
    # Latest-only protocols: the aggregator's mark of this hop (Hubtel's Sequence), which tells
    # a retried hop from the same answer typed again; "" when the protocol has none.
    hop_mark: str = ""
    new_session: bool = False  # the aggregator says this hop starts a session (Hubtel, Nalo)

    @property
    def replay_key(self) -> str | None:
        """Return what a retry of this hop repeats exactly (None: a retry cannot be told)."""
        if self.cumulative:
            return self.text
        return f"{self.hop_mark}|{self.text}" if self.hop_mark else None


@dataclass(frozen=True, slots=True)
class UssdReply:
    """What the phone shows: a screen waiting for input, or the last one."""

    end: bool
    body: str
    # For metrics only (never compared): the screen shown, and how the hop went (con, end,
    # retry, or the engine message of a polite END: busy, unavailable, bad_request, ...).
    screen: str = field(default="", compare=False)
    outcome: str = field(default="", compare=False)

    def wire(self) -> str:
        """Return the Africa's Talking body: `CON <screen>` or `END <screen>`."""
        return ("END " if self.end else "CON ") + self.body


def dialled_inputs(service_code: str, request: UssdRequest) -> list[str]:
    """Return the answers a caller typed into the dial string itself (`*384*12*3*10000057#`).

    Aggregators hand them over either in `text` on the first hop (Africa's Talking: the
    extension after the registered code arrives as if typed, `3*10000057`) or in the service
    code itself (`*384*12*3*10000057#`); either way they are answers to replay, in order.
    A dial string holds only digits between its stars: any other first text (a lost session's
    typed words) is not replayed.
    """
    base = service_code.rstrip("#")
    dialled = request.service_code.strip().rstrip("#")
    if request.text:
        text = request.text.rstrip("#")
        if text.startswith(base + "*"):  # a full dial string passed as the first input
            text = text[len(base) + 1 :]
        parts = text.split("*") if request.cumulative else [text]
    elif dialled.startswith(base + "*"):
        parts = dialled[len(base) + 1 :].split("*")
    else:
        return []
    return parts if all(part.isdigit() for part in parts) else []


def latest_input(previous: str, text: str, *, cumulative: bool = True) -> str:
    """Return what the caller typed last: the suffix of `text` after the previous text."""
    if not cumulative or not previous:
        return text
    if text.startswith(previous + "*"):
        return text[len(previous) + 1 :]
    # The aggregator's history does not extend ours (we lost a hop): best effort.
    return text.rsplit("*", 1)[-1]


@dataclass(slots=True)
class _Hop:
    """What one hop decided besides the reply: effects, language, the resume snapshot."""

    session: Session
    effects: list[Effect] = field(default_factory=list)
    language: str | None = None


class _ChainError(RuntimeError):
    """An action chain did not reach a screen (a loop or an unmapped outcome)."""


class HopHandler:
    """Answer USSD hops from the compiled menus and the Redis session store."""

    def __init__(
        self,
        spec: MenuSpec,
        store: SessionStore,
        enqueuer: Enqueuer,
        services: runtime.Container,
        *,
        registry: Registry | None = None,
        machine: MenuMachine | None = None,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.spec = spec
        self.store = store
        self.enqueuer = enqueuer
        self.services = services
        self.machine = machine if machine is not None else MenuMachine(spec)
        self.renderer = Renderer(spec)
        registry = registry if registry is not None else default_registry()
        # Resolve every action once: a hop never looks a name up in the registry.
        self._actions: dict[str, RegisteredAction] = {}
        zone = ZoneInfo(spec.city.timezone)
        # "Not in the future" is judged by the city's calendar; tests pass their own clock.
        self._today: Callable[[], date] = today or (lambda: datetime.now(zone).date())
        for screen in spec.screens.values():
            for name in (screen.action, screen.options_from, screen.fields_from):
                if name is not None:
                    self._actions[name] = registry.get(name)
        self._max_tries = spec.settings.max_invalid_tries

    # -- the contract ---------------------------------------------------------------------

    def handle(self, request: UssdRequest) -> UssdReply:
        """Answer one hop."""
        try:
            loaded = self.store.acquire(request.session_id, request.msisdn)
        except redis.RedisError:
            log.exception("ussd: session store unavailable")
            return self.unavailable()
        except HopRateLimitedError as limited:
            log.warning("ussd: hop rate exceeded, phone %s", mask_phone(request.msisdn))
            lang = limited.phone_lang
            return self.rate_limited(lang if lang in self.spec.languages else None)
        if loaded is None:
            log.warning("ussd: session busy, phone %s", mask_phone(request.msisdn))
            return self._message_end("busy", self._language(loaded))
        saved = False
        try:
            stored = loaded.session
            if stored is not None and stored.reply is not None and _retried(stored, request):
                # A retried hop: same answer, nothing changes, no effect runs twice.
                return UssdReply(*stored.reply, screen=stored.state, outcome="retry")
            hop = self._step(loaded, request)
            saved = self.store.save(
                loaded,
                hop.session,
                language=hop.language,
                resume=self._resume_mode(hop.session),
            )
            if not saved:
                log.error("ussd: session lock lost before save; reply withheld")
                return self.unavailable()
        except redis.RedisError:
            log.exception("ussd: session store failed during a hop")
            return self.unavailable()
        except Exception:
            log.exception("ussd: hop failed")
            return self.unavailable()
        finally:
            if not saved:
                self._release_quietly(loaded)
        self._enqueue(hop.effects)
        assert hop.session.reply is not None
        end, body = hop.session.reply
        return UssdReply(end, body, hop.session.state, "end" if end else "con")

    def bad_request(self) -> UssdReply:
        """Return the END shown when the request itself is malformed."""
        return self._message_end("bad_request", self.spec.default_language)

    def rate_limited(self, lang: str | None = None) -> UssdReply:
        """Return the polite END shown to a phone over its hop rate."""
        # Menus written before the limit existed have no `rate_limited` text: say "busy".
        message = "rate_limited" if "rate_limited" in self.spec.messages else "busy"
        return self._message_end(message, lang or self.spec.default_language)

    def unavailable(self) -> UssdReply:
        """Return the END shown when Redis or the back office is down."""
        return self._message_end("unavailable", self.spec.default_language)

    # -- one hop ---------------------------------------------------------------------------

    def _step(self, loaded: Loaded, request: UssdRequest) -> _Hop:
        stored = loaded.session
        if stored is None or stored.ended or request.new_session:
            # A first dial, an unknown/expired session, or one the aggregator says is new: start
            # from the top (a dial string's path is walked only on a session we never saw, or
            # on the aggregator's new-session hop).
            return self._dial(loaded, request, walk=stored is None or request.new_session)
        typed = latest_input(stored.text, request.text, cumulative=request.cumulative)
        stored.text = _kept_text(request)
        hop = _Hop(stored)
        self._answer(hop, typed)
        return hop

    def _dial(self, loaded: Loaded, request: UssdRequest, *, walk: bool = True) -> _Hop:
        lang = self._language(loaded)
        restored = None
        if loaded.phone_lang is None:
            # Redis knows nothing for the phone: ask SQL once, and keep its answer under the
            # phone's key with this hop's save, "none" included (the next dials skip SQL).
            restored = self._stored_language(loaded.msisdn)
        session = Session(
            session_id=request.session_id,
            msisdn=request.msisdn,
            state=self.spec.start,
            lang=restored if restored in self.spec.languages else lang,
            text=_kept_text(request),
        )
        # Written back under the session store's key with this hop's save.
        hop = _Hop(session, language=restored)
        snapshot = loaded.resume
        typed = dialled_inputs(self.spec.service_code, request) if walk else []
        if snapshot is not None and snapshot.get("s") in self.spec.screens and not typed:
            session.state = RESUME_STATE
            session.resume = snapshot
            self._render_resume(session)
            return hop
        self._enter(hop, self.spec.start)
        # A dial string that names a path (`*384*12*1#`) walks it as if each part were typed.
        for answer in typed[:MAX_DIALLED]:
            if session.ended:
                break
            self._answer(hop, answer)
        return hop

    def _answer(self, hop: _Hop, typed: str) -> None:
        session = hop.session
        if session.state == RESUME_STATE:
            self._answer_resume(hop, typed)
            return
        screen = self.spec.screens[session.state]
        if typed == HOME:
            session.history.clear()
            self._enter(hop, self.spec.start)
            return
        if typed == BACK and screen.kind == "form" and int(session.data.get(FORM_STEP, 0)) > 0:
            session.data[FORM_STEP] = int(session.data[FORM_STEP]) - 1
            session.page = session.tries = 0
            self._render(session)
            return
        if typed == BACK:
            target = session.history.pop() if session.history else self.spec.start
            self._enter(hop, target, back=True)
            return
        if typed == NEXT_PAGE and session.page + 1 < session.pages:
            session.page += 1
            self._render(session)
            return
        if typed == PREVIOUS_PAGE and session.page > 0:
            session.page -= 1
            self._render(session)
            return
        if typed in (NEXT_PAGE, PREVIOUS_PAGE):
            # No page that way: say so gently; it is navigation, not an invalid try.
            message = "no_more_pages" if "no_more_pages" in self.spec.messages else None
            self._render(session)
            end, body = session.reply or (False, "")
            noted = self.spec.message(message or "invalid_choice", session.lang) + "\n" + body
            if fits([noted]):  # on the page the caller is on; without it when it cannot fit
                session.reply = (end, noted)
            return
        if screen.kind == "form":
            self._answer_field(hop, screen, typed)
            return
        if screen.kind not in ("menu", "input"):
            # A paginated END waits for 98/99 only; anything else shows the page again.
            self._render(session)
            return
        model = HopModel(session.state, typed)
        if screen.kind == "input":
            self.machine.fire(SUBMIT, model)
        elif screen.options:
            self.machine.fire(SELECT, model)
        else:
            model.options = {key: value for key, _, value in session.options}
            self.machine.fire(PICK, model)
        if model.invalid:
            self._invalid(session, screen, model)
            return
        save_as = screen.typed.save_as if model.typed and screen.typed else screen.save_as
        if save_as is not None and model.value is not None:
            session.data[save_as] = model.value
        session.history.append(session.state)
        del session.history[:-MAX_HISTORY]
        self._enter(hop, model.state)

    def _answer_field(self, hop: _Hop, screen: Screen, typed: str) -> None:
        session = hop.session
        fields = _form_fields(session.data)
        step = int(session.data.get(FORM_STEP, 0))
        if not 0 <= step < len(fields):
            raise _ChainError(f"{screen.id}: form step {step} out of range")
        current = fields[step]
        value: str | None = None
        if not (typed == SKIP_FIELD and not current.required):
            check = field_check(current, self._today())
            if check is None:  # the catalogue names a validator we do not have
                log.warning(
                    "ussd: field %s names unknown validator %s", current.key, current.validator
                )
            value = check(typed) if check is not None else None
            if value is None:
                self._invalid_field(session, current)
                return
        assert screen.save_as is not None
        answers = dict(session.data.get(screen.save_as) or {})
        if value is None:
            answers.pop(current.key, None)
        else:
            answers[current.key] = value
        session.data[screen.save_as] = answers
        if step + 1 < len(fields):
            session.data[FORM_STEP] = step + 1
            session.page = session.tries = 0
            self._render(session)
            return
        session.history.append(session.state)
        del session.history[:-MAX_HISTORY]
        model = HopModel(session.state)
        self.machine.fire(FILL, model)
        self._enter(hop, model.state)

    def _invalid_field(self, session: Session, current: FormField) -> None:
        session.tries += 1
        if session.tries >= self._max_tries:
            self._finish(session, "too_many_tries")
            return
        key = f"field_{current.validator}"
        message = key if key in self.spec.messages else "invalid_input"
        session.page = 0
        self._render(session, prefix=self.spec.message(message, session.lang))

    def _invalid(self, session: Session, screen: Screen, model: HopModel) -> None:
        session.tries += 1
        if session.tries >= self._max_tries:
            self._finish(session, "too_many_tries")
            return
        if screen.kind == "menu":
            prefix = self.spec.message("invalid_choice", session.lang)
        else:
            error = model.error or screen.error or self.spec.messages["invalid_input"]
            prefix = error.render(session.lang, self.renderer.values(session.data))
        session.page = 0
        self._render(session, prefix=prefix)

    def _answer_resume(self, hop: _Hop, typed: str) -> None:
        session = hop.session
        snapshot = session.resume or {}
        if typed == RESUME_CONTINUE:
            session.resume = None
            session.state = snapshot["s"]
            session.lang = snapshot.get("l", session.lang)
            session.data = dict(snapshot.get("d") or {})
            session.history = [h for h in snapshot.get("h") or () if h in self.spec.screens]
            session.options = [(str(k), str(lb), str(v)) for k, lb, v in snapshot.get("o") or ()]
            session.page = 0
            self._render(session)
        elif typed in (RESUME_RESTART, HOME):
            session.resume = None
            self._enter(hop, self.spec.start)
        else:
            session.tries += 1
            if session.tries >= self._max_tries:
                self._finish(session, "too_many_tries")
                return
            self._render_resume(session, prefix=self.spec.message("invalid_choice", session.lang))

    # -- entering screens, running actions ------------------------------------------------

    def _enter(self, hop: _Hop, target: str, *, back: bool = False) -> None:
        session = hop.session
        try:
            for _ in range(MAX_CHAIN):
                screen = self.spec.screens[target]
                session.state, session.page, session.tries = target, 0, 0
                if screen.kind == "action":
                    target = self._resolve(hop, screen)
                    continue
                if screen.kind == "form":
                    session.options = []
                    if not self._start_form(hop, screen, back=back):
                        model = HopModel(target)
                        self.machine.fire(FILL, model)
                        target = model.state
                        continue
                    self._render(session)
                    return
                if screen.kind == "menu" and screen.options_from is not None:
                    result = self._call(hop, screen.options_from, screen)
                    options = result.options or []
                    if not options and screen.empty is not None:
                        model = HopModel(target)
                        self.machine.fire(EMPTY, model)
                        target = model.state
                        continue
                    keys = option_keys(len(options))
                    session.options = [
                        (key, o.label, o.value) for key, o in zip(keys, options, strict=True)
                    ]
                else:
                    session.options = []
                if target == self.spec.start:
                    # Home is a fresh start however we got here (e.g. after choosing a
                    # language): "0 Back" and "00 Home" would lead nowhere a caller expects.
                    session.history.clear()
                self._render(session)
                return
            raise _ChainError(f"more than {MAX_CHAIN} actions in a row from {target!r}")
        except _ChainError:
            log.exception("ussd: menu chain failed")
            self._finish(session, "unavailable")

    def _start_form(self, hop: _Hop, screen: Screen, *, back: bool) -> bool:
        """Load the form's fields (or, coming back to it, show its last field); False if none."""
        session = hop.session
        if back and session.data.get(FORM_SCREEN) == screen.id and session.data.get(FORM_FIELDS):
            session.data[FORM_STEP] = len(session.data[FORM_FIELDS]) - 1
            return True
        assert screen.fields_from is not None and screen.save_as is not None
        fields = self._call(hop, screen.fields_from, screen).fields or []
        session.data[FORM_FIELDS] = [_field_json(f) for f in fields]
        session.data[FORM_STEP] = 0
        session.data[FORM_SCREEN] = screen.id
        session.data[screen.save_as] = {}
        return bool(fields)

    def _form_parts(self, session: Session, screen: Screen) -> tuple[str, list[str]]:
        """Return the header (form text, field label) and lines (choices, skip) of a field."""
        fields = _form_fields(session.data)
        current = fields[min(int(session.data.get(FORM_STEP, 0)), len(fields) - 1)]
        intro = (
            screen.text.render(session.lang, self.renderer.values(session.data))
            if (screen.text is not None)
            else ""
        )
        header = "\n".join(part for part in (intro, current.label) if part)
        lines = [f"{index}. {c.label}" for index, c in enumerate(current.choices, start=1)]
        if not current.required:
            lines.append(f"{SKIP_FIELD}. {self.spec.message('skip', session.lang)}")
        return header, lines

    def _resolve(self, hop: _Hop, screen: Screen) -> str:
        assert screen.action is not None
        try:
            outcome = self._call(hop, screen.action, screen).outcome
        except Exception:
            log.exception("ussd: action %s failed", screen.action)
            outcome = "error"
        model = HopModel(screen.id, outcome=outcome)
        self.machine.fire(RESOLVE, model)
        if model.invalid:
            raise _ChainError(f"{screen.id}: outcome {outcome!r} is not mapped")
        return model.state

    def _call(self, hop: _Hop, name: str, screen: Screen) -> ActionResult:
        session = hop.session
        context = ActionContext(
            session_id=session.session_id,
            msisdn=session.msisdn,
            lang=session.lang,
            data=dict(session.data),
            args=screen.args,
            services=self.services,
        )
        result = self._actions[name].func(context)
        for key, value in result.data.items():
            # Sessions are JSON: dates, decimals and the like travel as text.
            session.data[key] = value if isinstance(value, _JSON_SCALARS) else str(value)
        hop.effects.extend(result.effects)
        if result.language is not None:
            if result.language in self.spec.languages:
                session.lang = hop.language = result.language
                self._store_language(session.msisdn, result.language)
            else:
                log.warning("ussd: action %s chose unknown language %r", name, result.language)
        return result

    # -- replies --------------------------------------------------------------------------

    def _render(self, session: Session, *, prefix: str | None = None) -> None:
        screen = self.spec.screens[session.state]
        if screen.kind == "form":
            header, items = self._form_parts(session, screen)
        else:
            header, items = self.renderer.screen_parts(
                screen, session.lang, session.data, [(k, label) for k, label, _ in session.options]
            )
        if screen.kind == "end":
            nav = Nav()
        else:
            depth = len(session.history)
            nav = Nav(back=depth > 0, home=depth > 1)
        pages = self.renderer.pages(session.lang, header, items, nav, prefix=prefix)
        session.pages = len(pages)
        session.page = min(session.page, len(pages) - 1)
        end = screen.kind == "end" and session.page == len(pages) - 1
        session.ended = end
        session.reply = (end, pages[session.page])

    def _render_resume(self, session: Session, *, prefix: str | None = None) -> None:
        lang = session.lang
        items = [
            f"{RESUME_CONTINUE}. {self.spec.message('resume_continue', lang)}",
            f"{RESUME_RESTART}. {self.spec.message('resume_restart', lang)}",
        ]
        header = self.spec.message("resume_prompt", lang, self.renderer.values({}))
        pages = self.renderer.pages(lang, header, items, Nav(), prefix=prefix)
        session.pages, session.page = len(pages), 0
        session.reply = (False, pages[0])

    def _finish(self, session: Session, message: str) -> None:
        session.ended = True
        session.reply = (True, self.spec.message(message, session.lang, self.renderer.values({})))

    def _message_end(self, message: str, lang: str) -> UssdReply:
        text = self.spec.message(message, lang, self.renderer.values({}))
        return UssdReply(True, text, outcome=message)

    # -- helpers --------------------------------------------------------------------------

    def _stored_language(self, msisdn: str) -> str | None:
        """Return the language SQL keeps for a phone Redis knows nothing for.

        Only on a dial whose phone has nothing under its Redis key (a new phone, or Redis came
        back empty). `keys.NO_LANGUAGE` when SQL answered "none chosen" (kept in Redis so the
        next dials skip SQL); None when it could not be asked.
        """
        prefs = self.services.find(Preferences)
        if prefs is None:
            return None
        try:
            lang = prefs.stored_language(msisdn)
        except Exception:
            # The database down must not stop the menu: the default language serves.
            log.warning("ussd: stored language unavailable, phone %s", mask_phone(msisdn))
            return None
        return lang if lang in self.spec.languages else keys.NO_LANGUAGE

    def _store_language(self, msisdn: str, lang: str) -> None:
        """Keep a language chosen in the menu in SQL too (only on the hop that changes it)."""
        prefs = self.services.find(Preferences)
        if prefs is None:
            return
        try:
            prefs.store_language(msisdn, lang)
        except Exception:
            # Redis keeps it with the session save; only its durable copy is missed.
            log.warning("ussd: language not stored in SQL, phone %s", mask_phone(msisdn))

    def _language(self, loaded: Loaded | None) -> str:
        if loaded is not None and loaded.phone_lang in self.spec.languages:
            return str(loaded.phone_lang)
        return self.spec.default_language

    def _resume_mode(self, session: Session) -> ResumeMode:
        if session.state == RESUME_STATE:
            return "keep"
        # Nothing worth resuming at home or after an END: a redial simply starts afresh.
        if session.ended or not session.history or session.state == self.spec.start:
            return "clear"
        return "set"

    def _release_quietly(self, loaded: Loaded) -> None:
        try:
            self.store.release(loaded)
        except redis.RedisError:
            log.warning("ussd: could not release a session lock; it expires by itself")

    def _enqueue(self, effects: list[Effect]) -> None:
        for effect in effects:
            try:
                self.enqueuer.enqueue(effect)
            except Exception:
                # The session is saved; a lost job is logged, the caller still gets a reply.
                log.exception("ussd: could not enqueue %s", effect.func)


def _retried(stored: Session, request: UssdRequest) -> bool:
    """Tell whether `request` repeats the hop that produced the stored reply."""
    key = request.replay_key
    if key is not None:
        return stored.text == key
    # Latest-only protocols signal every new session: a hop after the END can only be the
    # aggregator retrying the hop that ended it (our END was lost on the way).
    return stored.ended and not request.cumulative and not request.new_session


def _kept_text(request: UssdRequest) -> str:
    """Return what the session keeps of this hop's text: what a retry of it would repeat."""
    key = request.replay_key
    return request.text if key is None else key


def _field_json(field: FormField) -> dict[str, Any]:
    """Return a form field as the session (JSON in Redis) keeps it."""
    return {
        "k": field.key,
        "l": field.label,
        "v": field.validator,
        "r": field.required,
        "p": field.pattern,
        "c": [[c.value, c.label] for c in field.choices],
    }


def _form_fields(data: dict[str, Any]) -> list[FormField]:
    """Read back the fields of the form being walked."""
    return [
        FormField(
            key=str(raw["k"]),
            label=str(raw["l"]),
            validator=str(raw["v"]),
            required=bool(raw["r"]),
            pattern=raw.get("p"),
            choices=tuple(Option(str(v), str(lb)) for v, lb in raw.get("c") or ()),
        )
        for raw in data.get(FORM_FIELDS) or ()
    ]
