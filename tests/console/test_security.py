"""The console's guards: every route needs login and its role, CSRF, fixation, lockout, expiry."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flask import Flask
from werkzeug.routing import Rule

import runtime
from civic.ports import Backend, RequestStatus
from gateway.app import create_app
from gateway.console.accounts import MAX_FAILURES, Role, StaffStore
from gateway.console.web import COOKIE, PUBLIC_ENDPOINTS, console
from gateway.services import services_of
from runtime import keys
from tests.console.conftest import AGENT, SUPERVISOR, Staff, csrf_of

TOWNHALL_SUBMITTED = "10000012"  # birth, townhall, submitted
PROSECUTOR_REQUEST = "10000020"  # criminal record, prosecutor: not the demo agent's office
URL_VALUES = {"ref": TOWNHALL_SUBMITTED, "code": "4827-1930-55", "review_id": "1"}


def console_rules(app: Flask) -> list[Rule]:
    """Return every /console rule of the app's url map."""
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/console")]


def path_of(rule: Rule) -> str:
    """Return a concrete path for `rule`."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: URL_VALUES.get(m.group(1), "x1"), rule.rule)


def methods_of(rule: Rule) -> list[str]:
    """Return the rule's methods that carry meaning (no HEAD/OPTIONS)."""
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def test_every_console_route_is_public_on_purpose_or_guarded_by_a_role(console_app: Flask) -> None:
    rules = console_rules(console_app)
    assert len(rules) >= 10
    for rule in rules:
        view = console_app.view_functions[rule.endpoint]
        if rule.endpoint in PUBLIC_ENDPOINTS:
            assert not hasattr(view, "required_role"), rule.rule
        else:
            assert isinstance(getattr(view, "required_role", None), Role), (
                f"{rule.rule} has no @requires(role)"
            )


def test_every_guarded_route_sends_an_anonymous_browser_to_the_login(console_app: Flask) -> None:
    anonymous = Staff(console_app.test_client())
    anonymous.get("/console/login")  # an anonymous session with a valid CSRF token
    for rule in console_rules(console_app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in methods_of(rule):
            if method == "GET":
                answer = anonymous.client.get(path_of(rule))
                assert answer.status_code == 302, rule.rule
                assert answer.location.startswith("/console/login?next="), rule.rule
            else:
                answer = anonymous.post(path_of(rule))
                assert answer.status_code == 401, rule.rule


def test_every_route_refuses_a_role_below_its_own(console_app: Flask) -> None:
    agent = Staff(console_app.test_client())
    agent.login(AGENT)
    supervisor_only = [
        r for r in console_rules(console_app)
        if getattr(console_app.view_functions[r.endpoint], "required_role", Role.AGENT)
        > Role.AGENT
    ]  # fmt: skip
    assert supervisor_only, "no supervisor page to check"
    for rule in supervisor_only:
        for method in methods_of(rule):
            answer = (
                agent.client.get(path_of(rule)) if method == "GET" else agent.post(path_of(rule))
            )
            assert answer.status_code == 403, rule.rule
    supervisor = Staff(console_app.test_client())
    supervisor.login(SUPERVISOR)
    for rule in supervisor_only:
        if "GET" in methods_of(rule):
            # A page of one thing (a broadcast) filled with a made-up id is a 404 for the
            # supervisor; a page of no argument must open.
            expected = {200, 404} if rule.arguments else {200}
            assert supervisor.client.get(path_of(rule)).status_code in expected, rule.rule


def _status(app: Flask, ref: str) -> RequestStatus:
    found = services_of(app).get(Backend).get_request(ref)  # type: ignore[type-abstract]
    assert found is not None
    return found.status


def test_a_form_without_or_with_a_foreign_csrf_token_is_refused(console_app: Flask) -> None:
    agent = Staff(console_app.test_client())
    agent.login(AGENT)
    path = f"/console/requests/{TOWNHALL_SUBMITTED}/decision"
    bare = agent.client.post(path, data={"decision": "in_review"})
    other = Staff(console_app.test_client())
    other.get("/console/login")
    foreign = agent.client.post(path, data={"decision": "in_review", "csrf_token": other.csrf})
    for answer in (bare, foreign):
        assert answer.status_code == 400
        assert "ne vient pas de la console" in answer.get_data(as_text=True)
    assert _status(console_app, TOWNHALL_SUBMITTED) == RequestStatus.SUBMITTED
    # The same form with the session's own token goes through.
    assert agent.post(path, decision="in_review").status_code == 302
    assert _status(console_app, TOWNHALL_SUBMITTED) == RequestStatus.IN_REVIEW


def test_login_replaces_the_session_id_and_the_old_one_is_worthless(console_app: Flask) -> None:
    staff = Staff(console_app.test_client())
    staff.get("/console/login")
    planted = staff.cookie()
    assert planted
    assert staff.login(AGENT).status_code == 302
    assert staff.cookie() not in (None, planted)
    # An attacker holding the pre-login id gets nothing.
    attacker = console_app.test_client()
    attacker.set_cookie(COOKIE, planted, path="/console")
    assert attacker.get("/console/requests").status_code == 302


def test_the_cookie_is_httponly_strict_and_scoped(console_app: Flask) -> None:
    answer = console_app.test_client().get("/console/login")
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # development over http; production sets it (secure_cookies)
    assert console(console_app).secure_cookies is False


def test_the_account_locks_after_repeated_wrong_passwords(console_app: Flask) -> None:
    staff = Staff(console_app.test_client())
    answers = [staff.login(AGENT, "wrong-password-1").status_code for _ in range(MAX_FAILURES)]
    assert answers == [401] * MAX_FAILURES
    locked = staff.login(AGENT)  # the right password, too late
    assert locked.status_code == 401
    assert staff.client.get("/console/requests").status_code == 302
    actions = [e.action for e in console(console_app).audit.recent(target=AGENT)]
    assert actions.count("login.failed") == MAX_FAILURES + 1


def test_login_attempts_are_throttled_per_address(console_config: dict[str, Any]) -> None:
    app = create_app({**console_config, "rate_console_logins": "3/300"})
    try:
        staff = Staff(app.test_client())
        codes = [staff.login(f"nobody{n}@goma.cd", "whatever-password").status_code
                 for n in range(4)]  # fmt: skip
        assert codes == [401, 401, 401, 429]
        assert staff.login(AGENT).status_code == 429  # even the right password waits
    finally:
        runtime.uninstall()


def test_a_session_ends_when_it_is_too_old(agent: Staff, console_app: Flask) -> None:
    assert agent.client.get("/console/requests").status_code == 200
    client = services_of(console_app).get(redis.Redis)
    token = agent.cookie()
    assert token is not None
    # Started longer ago than CONSOLE_SESSION_MAX_SECONDS (as a clock would make it).
    digest = __import__("hashlib").sha256(token.encode()).hexdigest()
    key = keys.console_session(digest)
    started = float(client.hget(key, "started") or 0)
    client.hset(key, "started", started - console(console_app).sessions.max_seconds - 1)
    assert agent.client.get("/console/requests").status_code == 302
    assert not client.exists(key)


def test_logout_ends_the_session(agent: Staff) -> None:
    token = agent.cookie()
    assert agent.post("/console/logout").status_code == 200
    again = agent.client
    again.set_cookie(COOKIE, token or "", path="/console")
    assert again.get("/console/requests").status_code == 302


def test_a_password_change_ends_the_other_sessions(console_app: Flask) -> None:
    here, elsewhere = Staff(console_app.test_client()), Staff(console_app.test_client())
    here.login(AGENT)
    elsewhere.login(AGENT)
    here.get("/console/password")
    changed = here.post("/console/password", current="demo-password",
                        new="a-new-long-password", confirm="a-new-long-password")  # fmt: skip
    assert changed.status_code == 200
    assert "Mot de passe changé" in changed.get_data(as_text=True)
    assert here.client.get("/console/requests").status_code == 200
    assert elsewhere.client.get("/console/requests").status_code == 302
    assert Staff(console_app.test_client()).login(AGENT, "a-new-long-password").status_code == 302


def test_a_reset_password_must_be_changed_before_anything_else(console_app: Flask) -> None:
    store: StaffStore = console(console_app).staff
    store.reset(AGENT, "temporary-password-9")
    staff = Staff(console_app.test_client())
    assert staff.login(AGENT, "temporary-password-9").location == "/console/password"
    assert staff.client.get("/console/requests").location == "/console/password"


def test_a_disabled_account_is_out_at_its_next_click(agent: Staff, console_app: Flask) -> None:
    console(console_app).staff.disable(AGENT)
    assert agent.client.get("/console/requests").status_code == 302


def test_an_agent_reaches_only_the_requests_of_their_offices(
    agent: Staff, console_app: Flask
) -> None:
    queue = agent.get("/console/requests").get_data(as_text=True)
    assert TOWNHALL_SUBMITTED in queue and PROSECUTOR_REQUEST not in queue
    assert agent.get(f"/console/requests/{PROSECUTOR_REQUEST}").status_code == 403
    agent.get("/console/requests")
    refused = agent.post(f"/console/requests/{PROSECUTOR_REQUEST}/decision", decision="approve")
    assert refused.status_code == 403
    assert _status(console_app, PROSECUTOR_REQUEST) == RequestStatus.IN_REVIEW
    denied = [e.action for e in console(console_app).audit.recent(target=PROSECUTOR_REQUEST)]
    assert denied == ["request.denied", "request.denied"]


def test_a_supervisor_sees_every_office(supervisor: Staff) -> None:
    queue = supervisor.get("/console/requests").get_data(as_text=True)
    assert TOWNHALL_SUBMITTED in queue and PROSECUTOR_REQUEST in queue
    assert supervisor.get(f"/console/requests/{PROSECUTOR_REQUEST}").status_code == 200


def test_the_login_page_has_a_csrf_token_and_labels(console_app: Flask) -> None:
    page = console_app.test_client().get("/console/login")
    text = page.get_data(as_text=True)
    assert csrf_of(page)
    for field in ("email", "password"):
        assert f'<label for="{field}">' in text and f'id="{field}"' in text
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/api/v1/requests"]
)
def test_login_never_redirects_outside_the_console(console_app: Flask, target: str) -> None:
    staff = Staff(console_app.test_client())
    staff.csrf = csrf_of(staff.client.get("/console/login"))
    form = {"csrf_token": staff.csrf, "email": AGENT, "password": "demo-password", "next": target}
    answer = staff.client.post("/console/login", data=form)
    assert answer.location == "/console/"
