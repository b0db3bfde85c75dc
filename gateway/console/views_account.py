"""Logging in and out, choosing the language, changing one's password."""

from __future__ import annotations

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue

from gateway.console.accounts import AccountError, Role
from gateway.console.web import (
    audit,
    begin_session,
    blueprint,
    client_ip,
    console,
    current_session,
    end_session,
    nav,
    page,
    requires,
    safe_next,
    staff,
    t,
)

nav("console.password", "nav_password", Role.AGENT, order=90)


@blueprint.get("/")
@requires(Role.AGENT)
def home() -> ResponseReturnValue:
    """Open the request queue."""
    return redirect(url_for("console.queue"))


@blueprint.get("/login")
def login() -> ResponseReturnValue:
    """Show the login form (with an anonymous session carrying its CSRF token)."""
    current_session()
    if staff() is not None:
        return redirect(safe_next(request.args.get("next")))
    return page("console/login.html", next=request.args.get("next", ""))


@blueprint.post("/login")
def login_submit() -> ResponseReturnValue:
    """Check the password; on success start a new session (new id) and go on."""
    email = request.form.get("email", "").strip()[:200]
    password = request.form.get("password", "")[:1000]
    target = request.form.get("next", "")
    decision = console().login_limiter.take(client_ip() or "unknown")
    if not decision.allowed:
        audit("login.throttled", target=email)
        return page(
            "console/login.html", 429, next=target, email=email,
            error_key="login_throttled", retry=max(1, decision.retry_after),
        )  # fmt: skip
    result = console().staff.authenticate(email, password)
    if result.user is None:
        audit("login.failed", target=email, detail=result.reason)
        return page("console/login.html", 401, next=target, email=email, error_key="login_failed")
    begin_session(result.user)
    audit("login")
    if result.user.must_change:
        return redirect(url_for("console.password"))
    return redirect(safe_next(target))


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session."""
    if staff() is not None:
        audit("logout")
    end_session()
    return page("console/login.html", next="", notice_key="logged_out")


@blueprint.post("/language")
def language() -> ResponseReturnValue:
    """Remember the language chosen for this browser's session."""
    chosen = request.form.get("lang", "")
    if chosen in console().texts.languages:
        console().sessions.set_lang(current_session(), chosen)
    return redirect(safe_next(request.form.get("next")))


@blueprint.route("/password", methods=["GET", "POST"])
@requires(Role.AGENT)
def password() -> ResponseReturnValue:
    """Change one's password; every other session of the person ends."""
    user = staff()
    assert user is not None  # requires() let us in
    if request.method == "GET":
        return page("console/password.html")
    new = request.form.get("new", "")[:1000]
    if new != request.form.get("confirm", "")[:1000]:
        return page("console/password.html", 400, error=t("password_mismatch"))
    try:
        console().staff.change_password(user.id, request.form.get("current", "")[:1000], new)
    except AccountError as error:
        audit("password.refused", detail=error.key)
        return page("console/password.html", 400, error=t(f"account_{error.key}"))
    audit("password.change")
    # The change ended every session (gateway.console.web: older than the password); this
    # browser gets a new one.
    refreshed = console().staff.get(user.id)
    assert refreshed is not None
    begin_session(refreshed)
    return page("console/password.html", notice=t("password_changed"))
