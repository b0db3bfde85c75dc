"""The console's frame: its blueprint, sessions, CSRF check, roles, navigation and texts.

Pages add themselves with `@blueprint.get/post` and `@requires(Role.X)`; a menu entry with
`nav(endpoint, text_key, role)`. Every page is server-rendered from templates/console/.

Sessions are ours (gateway/console/sessions.py, in Redis), not Flask's signed cookie: a
server-side session can be ended (logout, password change, disabled account) and its id
replaced at login. The CSRF token lives in that session and is checked here before any view
of a POST: we write these few lines rather than add Flask-WTF, whose CSRFProtect keeps its
token in Flask's cookie session and would need a second session and a SECRET_KEY.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, ParamSpec, TypeVar
from urllib.parse import urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from civic.sql import make_engine
from gateway.callback_auth import CallbackGate
from gateway.config import Settings
from gateway.console.accounts import Role, StaffStore, StaffUser
from gateway.console.audit import AuditLog
from gateway.console.sessions import ConsoleSession, SessionBook
from gateway.console.texts import Texts
from gateway.services import services_of
from runtime.ratelimit import Rate, RateLimiter

P = ParamSpec("P")
R = TypeVar("R")

EXTENSION_KEY: Final = "guichet_console"
COOKIE: Final = "guichet_console"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD: Final = "csrf_token"
# Pages anyone may open (the login form, its language switch, the stylesheet).
PUBLIC_ENDPOINTS: Final = frozenset(
    {
        "console.login",
        "console.login_submit",
        "console.language",
        "console.static",
        "console.logout",
    }
)

blueprint = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@dataclass(frozen=True, slots=True)
class NavItem:
    """One menu entry: shown to staff whose role is at least `role`."""

    endpoint: str
    text: str
    role: Role
    order: int


@dataclass(slots=True)
class Console:
    """What the console's pages share: accounts, audit log, sessions, texts, menu."""

    staff: StaffStore
    audit: AuditLog
    sessions: SessionBook
    login_limiter: RateLimiter
    texts: Texts
    secure_cookies: bool
    menu: list[NavItem] = field(default_factory=list)


_MENU: list[NavItem] = []


def nav(endpoint: str, text: str, role: Role, order: int) -> None:
    """Add a menu entry at `order` (call at import time of a views module)."""
    _MENU.append(NavItem(endpoint, text, role, order))
    _MENU.sort(key=lambda item: item.order)


def console(app: Flask | None = None) -> Console:
    """Return the console of `app` (default: the current app)."""
    found: Console = (app or current_app).extensions[EXTENSION_KEY]
    return found


def install(app: Flask, settings: Settings) -> None:
    """Build the console's services and register its blueprint on `app`."""
    services = services_of(app)
    engine = make_engine(settings.database_url, timeout=settings.civic_read_timeout)
    client = services.get(redis.Redis)
    app.extensions[EXTENSION_KEY] = Console(
        staff=StaffStore(engine),
        audit=AuditLog(engine),
        sessions=SessionBook(
            client,
            idle_seconds=settings.console_session_idle_seconds,
            max_seconds=settings.console_session_max_seconds,
        ),
        login_limiter=RateLimiter(
            client, "console_login", Rate.parse(settings.rate_console_logins), fail_open=False
        ),
        texts=Texts.load(),
        secure_cookies=settings.env == "production",
        menu=_MENU,
    )
    app.register_blueprint(blueprint)


# --- per request -------------------------------------------------------------------------


def client_ip() -> str:
    """Return the client's address (behind TRUSTED_PROXIES, what they say it is)."""
    gate = services_of(current_app).get(CallbackGate)
    return gate.clients.of(request.remote_addr, request.headers)


def staff() -> StaffUser | None:
    """Return the logged-in staff member, or None."""
    user: StaffUser | None = g.get("console_staff")
    return user


def current_session() -> ConsoleSession:
    """Return this browser's session, starting an anonymous one (it carries the CSRF token)."""
    session: ConsoleSession | None = g.get("console_session")
    if session is None:
        book = console().sessions
        session = book.start(lang=console().texts.best(request.headers.get("Accept-Language")))
        g.console_session = session
        g.console_set_cookie = session.token
    return session


def begin_session(user: StaffUser) -> ConsoleSession:
    """Replace the browser's session with a new one for `user` (a new id: no fixation)."""
    old: ConsoleSession | None = g.get("console_session")
    book = console().sessions
    lang = old.lang if old is not None else console().texts.languages[0]
    if old is not None:
        book.end(old.token)
    session = book.start(user_id=user.id, lang=lang)
    g.console_session = session
    g.console_staff = user
    g.console_set_cookie = session.token
    return session


def end_session() -> None:
    """End the browser's session (logout)."""
    session: ConsoleSession | None = g.get("console_session")
    if session is not None:
        console().sessions.end(session.token)
    g.console_session = None
    g.console_staff = None
    g.console_clear_cookie = True


def lang() -> str:
    """Return the language of this page."""
    session: ConsoleSession | None = g.get("console_session")
    texts = console().texts
    if session is not None and session.lang in texts.languages:
        return session.lang
    return texts.best(request.headers.get("Accept-Language"))


def t(key: str, **params: object) -> str:
    """Return the text `key` in the page's language."""
    return console().texts.get(key, lang(), **params)


def audit(action: str, *, target: str = "", detail: str = "", actor: str | None = None) -> None:
    """Log a staff action with who, when and from where."""
    user = staff()
    who = actor or (user.email if user is not None else "anonymous")
    console().audit.append(who, action, target=target, detail=detail, client_ip=client_ip())


def page(template: str, http_status: int = 200, **context: object) -> Response:
    """Render a console template."""
    return current_app.make_response((render_template(template, **context), http_status))


def refusal(message_key: str, http_status: int, **params: object) -> Response:
    """Render the error page."""
    return page("console/error.html", http_status, message=t(message_key, **params))


def safe_next(target: str | None) -> str:
    """Return `target` when it is a console path of ours, else the console's home."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and parts.path.startswith("/console/"):
            return target
    return url_for("console.home")


@blueprint.before_request
def _load_session() -> ResponseReturnValue | None:
    book = console().sessions
    session = book.load(request.cookies.get(COOKIE))
    g.console_session = session
    g.console_staff = None
    if session is not None and session.user_id:
        user = console().staff.get(session.user_id)
        # Disabled, or the password changed since this session began (reset, or changed in
        # another browser): the session is over.
        if user is None or user.disabled or user.password_changed_at.timestamp() > session.started:
            book.end(session.token)
            g.console_session = None
            g.console_clear_cookie = True
        else:
            g.console_staff = user
    if request.method not in SAFE_METHODS and not _csrf_ok(g.console_session):
        return refusal("csrf_failed", 400)
    return None


def _csrf_ok(session: ConsoleSession | None) -> bool:
    presented = request.form.get(CSRF_FIELD, "")
    if session is None or not presented or not session.csrf:
        return False
    return hmac.compare_digest(presented.encode(), session.csrf.encode())


@blueprint.after_request
def _cookies_and_headers(response: Response) -> Response:
    secure = console().secure_cookies
    token: str | None = g.get("console_set_cookie")
    if token:
        response.set_cookie(
            COOKIE,
            token,
            path="/console",
            httponly=True,
            secure=secure,
            samesite="Strict",
            max_age=console().sessions.max_seconds,
        )
    elif g.get("console_clear_cookie"):
        response.delete_cookie(
            COOKIE, path="/console", httponly=True, secure=secure, samesite="Strict"
        )
    # Personal data on every page: never cached, never framed, no inline script.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )
    return response


@blueprint.app_template_global("t")
def _t(key: str, **params: object) -> str:
    return t(key, **params)


@blueprint.context_processor
def _frame() -> dict[str, object]:
    user = staff()
    session: ConsoleSession | None = g.get("console_session")
    items = [item for item in console().menu if user is not None and user.role >= item.role]
    return {
        "staff": user,
        "csrf_token": session.csrf if session is not None else "",
        "lang": lang(),
        "languages": console().texts.languages,
        "menu": items,
    }


# --- the guard every page but PUBLIC_ENDPOINTS wears -----------------------------------------


def requires(
    role: Role,
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Guard a page: login first (to the login page), then `role` or higher (else 403).

    A person whose password was reset by an admin is sent to change it first.
    """

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            user = staff()
            if user is None:
                if request.method in SAFE_METHODS:
                    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
                return refusal("session_expired", 401)
            if user.must_change and request.endpoint != "console.password":
                return redirect(url_for("console.password"))
            if user.role < role:
                audit("denied", target=request.path, detail=f"needs {role.label}")
                return refusal("forbidden", 403)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]  # read by the url-map test
        return guarded

    return decorate
