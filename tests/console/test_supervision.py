"""Supervisors' pages: payments and refunds, SMS delivery and broadcasts, the funnel, the
menu map, personal-data rights; each refused to agents, each form refused without CSRF."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import redis
import yaml
from flask import Flask
from markupsafe import escape as html_escape
from rq import Queue, SimpleWorker

import runtime
from gateway.console.texts import TEXTS_PATH
from gateway.ussd_events import SessionEvents
from menus.model import MenuSpec
from payments.intent_store import NewIntent
from payments.store import PaymentStore
from runtime import keys
from runtime.masking import mask_phone
from sms.providers.console import read_outbox
from sms.queues import SMS_QUEUE
from sms.service import SmsService
from tests.conftest import UssdPhone
from tests.console.conftest import Staff

PHONE = "+243810000555"

# Every supervisor route: (method, path); a path with a placeholder id is refused before it
# is looked up, so an agent gets 403, not 404.
SUPERVISOR_PAGES = [
    ("GET", "/console/payments"),
    ("POST", "/console/payments/search"),
    ("POST", "/console/payments/reviews/1/refund"),
    ("GET", "/console/sms"),
    ("GET", "/console/sms/broadcasts"),
    ("POST", "/console/sms/broadcasts"),
    ("GET", "/console/sms/broadcasts/c0123456789abcdef"),
    ("GET", "/console/sms/broadcasts/c0123456789abcdef/progress"),
    ("POST", "/console/sms/broadcasts/c0123456789abcdef/stop"),
    ("POST", "/console/sms/broadcasts/c0123456789abcdef/resume"),
    ("GET", "/console/funnel"),
    ("GET", "/console/menu-map"),
    ("GET", "/console/personal-data"),
    ("POST", "/console/personal-data/export"),
    ("POST", "/console/personal-data/erase"),
]
FORMS = [path for method, path in SUPERVISOR_PAGES if method == "POST"]


def _work(client: redis.Redis) -> None:
    queue = Queue(keys.queue(SMS_QUEUE), connection=client)
    SimpleWorker([queue], connection=client).work(burst=True)


def _audit(app: Flask) -> list[tuple[str, str, str]]:
    with app.app_context():
        entries = app.extensions["guichet_console"].audit.recent(limit=50)
    return [(e.action, e.target, e.detail) for e in entries]


def test_agents_are_refused_every_supervisor_page(agent: Staff, console_app: Flask) -> None:
    # One login for every route (argon2 makes a login slow on purpose).
    refused = {
        path: (agent.get(path) if method == "GET" else agent.post(path)).status_code
        for method, path in SUPERVISOR_PAGES
    }
    assert refused == {path: 403 for _, path in SUPERVISOR_PAGES}
    denied = [t for a, t, _ in _audit(console_app) if a == "denied"]
    assert len(denied) == len(SUPERVISOR_PAGES)


def test_supervisor_forms_need_the_csrf_token(supervisor: Staff) -> None:
    for path in FORMS:
        answer = supervisor.client.post(path, data={"note": "x", "phone": PHONE})
        assert answer.status_code == 400, path
        assert supervisor.post(path, csrf_token="forged").status_code == 400, path


def test_the_supervisor_menu_has_the_new_pages_and_the_agents_does_not(
    supervisor: Staff, agent: Staff
) -> None:
    theirs = supervisor.get("/console/payments").get_data(as_text=True)
    mine = agent.get("/console/counter").get_data(as_text=True)
    for path in ("/console/payments", "/console/sms", "/console/funnel", "/console/menu-map"):
        assert f'href="{path}"' in theirs
        assert f'href="{path}"' not in mine
    assert 'href="/console/counter"' in mine
    # Every new page reads in both languages, with no key left untranslated.
    texts = yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8"))["texts"]
    pages = {
        "/console/payments": "payments_reviews",
        "/console/sms": "sms_rates",
        "/console/sms/broadcasts": "broadcast_start",
        "/console/funnel": "funnel_period",
        "/console/menu-map": "map_kind",
        "/console/personal-data": "rights_export",
    }
    for lang in ("en", "fr"):
        assert (
            supervisor.post("/console/language", lang=lang, next="/console/sms").status_code == 302
        )
        for path, key in pages.items():
            html = supervisor.get(path).get_data(as_text=True)
            assert f'<html lang="{lang}">' in html, path
            assert str(html_escape(texts[key][lang])) in html, (path, lang)
            assert not re.search(
                r">\s*(?:nav|counter|payments|sms|broadcast|funnel|map|rights)_[a-z_]+\s*<", html
            ), path


def _intent(phone: str) -> str:
    store = runtime.current().get(PaymentStore)
    intent, _ = store.intents.create_intent(
        NewIntent(
            idempotency_key="test-intent-1",
            session_id="ATUid_test",
            assessment_id="a-1",
            assessment_reference="PT-2025-0042",
            tax_code="property",
            amount=12000,
            currency="CDF",
            phone=phone,
            operator="mpesa",
            provider="sandbox",
            lang="fr",
            deadline_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=5),
        )
    )
    return intent.id


def test_payments_are_found_by_reference_phone_and_status(
    supervisor: Staff, console_app: Flask
) -> None:
    intent_id = _intent(PHONE)
    supervisor.get("/console/payments")

    def search(**form: str) -> str:
        answer = supervisor.post("/console/payments/search", **form)
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    for query in ("PT-2025-0042", intent_id, "0810000555", PHONE):
        html = search(q=query)
        assert intent_id in html, query
        assert html.count(PHONE) <= 1  # the search box; the payment shows it masked
    assert intent_id in supervisor.get(f"/console/payments?q={intent_id}").get_data(as_text=True)
    assert intent_id not in search(q="PT-1999-0001")
    assert intent_id in search(status="pending")
    assert intent_id not in search(q=PHONE, status="failed")
    assert "payments.search" in [a for a, _, _ in _audit(console_app)]


def test_a_review_is_marked_refunded_once_with_its_note(
    supervisor: Staff, console_app: Flask
) -> None:
    reviews = runtime.current().get(PaymentStore).reviews
    assert reviews.add_review(
        dedupe_key="settle:x:rejected", provider="sandbox", reason="rejected", detail="paid twice"
    )
    review = reviews.list_reviews()[0]
    assert "paid twice" in supervisor.get("/console/payments").get_data(as_text=True)
    path = f"/console/payments/reviews/{review.id}/refund"
    assert supervisor.post(path, note="  ").status_code == 400
    assert supervisor.post(path, note="M-Pesa reversal 2025-11-30").status_code == 302
    assert supervisor.post(path, note="again").status_code == 409
    assert supervisor.post("/console/payments/reviews/999/refund", note="x").status_code == 404
    marked = reviews.refunds()[review.id]
    assert marked.note == "M-Pesa reversal 2025-11-30"
    assert marked.marked_by == "supervisor@demo.city"
    assert ("payments.refunded", f"review:{review.id}", "M-Pesa reversal 2025-11-30") in _audit(
        console_app
    )
    assert "M-Pesa reversal" in supervisor.get("/console/payments").get_data(as_text=True)


def test_sms_page_counts_by_template_and_status(
    supervisor: Staff, redis_client: redis.Redis
) -> None:
    sms = runtime.current().get(SmsService)
    sms.send(PHONE, "otp", {"code": "123456", "minutes": 5}, idempotency_key="t-otp-1")
    # A French number: outside the city's countries, refused before any provider sees it.
    refused = sms.send(
        "+33612345678", "otp", {"code": "654321", "minutes": 5}, idempotency_key="t2"
    )
    assert not refused.accepted
    _work(redis_client)
    html = supervisor.get("/console/sms").get_data(as_text=True)
    assert '<th scope="row">otp</th>' in html
    assert "123456" not in html and "654321" not in html
    listed = html.split('id="sms-refused"', 1)[1]
    assert mask_phone("+33612345678") in listed and PHONE not in listed


def _broadcast(supervisor: Staff, csv: str, template: str = "notice_tax_deadline") -> str:
    answer = supervisor.post(
        "/console/sms/broadcasts",
        template=template,
        params="tax=Impôt foncier\ndate=31/12/2025\nshort_code=*384*12#",
        csv_text=csv,
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"].rsplit("/", 1)[-1]


def _progress(supervisor: Staff, broadcast: str) -> dict[str, object]:
    answer = supervisor.get(f"/console/sms/broadcasts/{broadcast}/progress")
    assert answer.status_code == 200
    found: dict[str, object] = answer.get_json()
    return found


def test_a_broadcast_stops_and_resumes_without_texting_anyone_twice(
    supervisor: Staff, console_app: Flask, redis_client: redis.Redis
) -> None:
    csv = "phone,lang\n+243810000601,fr\n0810000602,en\nnot-a-number,\n+243810000603,\n"
    broadcast = _broadcast(supervisor, csv)
    page = supervisor.get(f"/console/sms/broadcasts/{broadcast}").get_data(as_text=True)
    assert '<progress id="bar" max="4" value="0">' in page
    assert _progress(supervisor, broadcast)["state"] == "running"
    assert supervisor.post(f"/console/sms/broadcasts/{broadcast}/stop").status_code == 302
    _work(redis_client)  # the job sees the stop before its first row
    stopped = _progress(supervisor, broadcast)
    assert (stopped["state"], stopped["done"]) == ("stopped", 0)
    assert supervisor.post(f"/console/sms/broadcasts/{broadcast}/stop").status_code == 409
    assert supervisor.post(f"/console/sms/broadcasts/{broadcast}/resume").status_code == 302
    _work(redis_client)
    done = _progress(supervisor, broadcast)
    assert done == {**done, "state": "done", "done": 4, "total": 4, "queued": 3, "invalid": 1}
    assert done["percent"] == 100
    for phone in ("+243810000601", "+243810000602", "+243810000603"):
        assert len(read_outbox(redis_client, phone=phone)) == 1
    assert supervisor.post(f"/console/sms/broadcasts/{broadcast}/resume").status_code == 409
    actions = [a for a, t, _ in _audit(console_app) if t == broadcast]
    assert actions == ["sms.broadcast_resume", "sms.broadcast_stop", "sms.broadcast_start"]
    # The phones are kept sealed, never in clear, while the broadcast is kept.
    stored = redis_client.hget(keys.key("console", "broadcast", broadcast), "rows")
    assert stored is not None and b"810000601" not in stored


def test_a_broadcast_is_checked_before_it_starts(
    supervisor: Staff, redis_client: redis.Redis
) -> None:
    supervisor.get("/console/sms/broadcasts")
    refused = [
        ("otp", "", "phone\n+243810000601\n"),  # an essential template, not a notice
        ("notice_tax_deadline", "tax=x", "phone\n+243810000601\n"),  # `date` missing
        ("notice_tax_deadline", "tax=x\ndate=y", "tel\n+243810000601\n"),  # no phone column
        ("notice_tax_deadline", "tax=x\ndate=y", "phone\n"),  # no row
    ]
    for template, params, csv in refused:
        answer = supervisor.post(
            "/console/sms/broadcasts", template=template, params=params, csv_text=csv
        )
        assert answer.status_code == 400, (template, params, csv)
        assert 'id="error"' in answer.get_data(as_text=True)
    assert redis_client.zcard(keys.key("console", "broadcasts")) == 0


def test_an_unknown_broadcast_is_not_found(supervisor: Staff) -> None:
    assert supervisor.get("/console/sms/broadcasts/c0123456789abcdef").status_code == 404
    assert supervisor.get("/console/sms/broadcasts/../x").status_code == 404
    progress = supervisor.get("/console/sms/broadcasts/c0123456789abcdef/progress")
    assert progress.status_code == 404 and progress.get_json() == {"error": "not_found"}


def test_the_funnel_chart_shows_where_sessions_were_abandoned(
    supervisor: Staff, console_app: Flask, redis_client: redis.Redis
) -> None:
    phone = UssdPhone(console_app.test_client(), phone=PHONE)
    phone.dial()
    phone.type("1")
    with console_app.app_context():
        events = SessionEvents(redis_client, region="CD")
        events.record({"sessionId": phone.session_id, "status": "Incomplete"})
    html = supervisor.get("/console/funnel?period=1d").get_data(as_text=True)
    assert '<svg class="funnel-chart"' in html
    assert "(−1)" in html  # one abandoned on its last screen
    assert supervisor.get("/console/funnel?period=bogus").status_code == 200


def test_the_menu_map_draws_every_screen(supervisor: Staff) -> None:
    spec = runtime.current().get(MenuSpec)
    html = supervisor.get("/console/menu-map?lang=en").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="menu-map"' in html
    for screen in spec.screens:
        assert f'<th scope="row">{screen}</th>' in html


def test_a_supervisor_exports_and_erases_a_citizens_data(
    supervisor: Staff, console_app: Flask
) -> None:
    _intent(PHONE)
    supervisor.get("/console/personal-data")
    exported = supervisor.post("/console/personal-data/export", phone=PHONE, reason="letter 12")
    assert exported.status_code == 200
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    document = json.loads(exported.get_data(as_text=True))
    assert document["phone"] == PHONE
    assert any(document["records"].values())
    assert supervisor.post("/console/personal-data/export", phone="12").status_code == 400
    mismatch = supervisor.post(
        "/console/personal-data/erase", phone=PHONE, phone_again="+243810000556", reason="r"
    )
    assert mismatch.status_code == 400
    no_reason = supervisor.post(
        "/console/personal-data/erase", phone=PHONE, phone_again=PHONE, reason=" "
    )
    assert no_reason.status_code == 400
    erased = supervisor.post(
        "/console/personal-data/erase", phone=PHONE, phone_again="0810000555", reason="letter 12"
    )
    assert erased.status_code == 200
    assert 'id="notice"' in erased.get_data(as_text=True)
    after = json.loads(
        supervisor.post("/console/personal-data/export", phone=PHONE).get_data(as_text=True)
    )
    assert after["records"] != document["records"]
    actions = [(a, t) for a, t, _ in _audit(console_app)]
    assert ("personal_data.erase", mask_phone(PHONE)) in actions
    assert ("personal_data.export", mask_phone(PHONE)) in actions
    assert all(PHONE not in d for _, _, d in _audit(console_app))
