"""End-of-session notifications: validated, deduped, stored with the path; the funnel report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from civic.seed import seed_demo
from gateway.cli import main
from gateway.ussd_events import SessionEvents, stream_key
from runtime import logs
from tests.conftest import UssdPhone

URL = "/ussd/africastalking/events"
PHONE = "+243810000077"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    seed_demo(app_config["database_url"])
    return app_config


def _event(session_id: str, status: str = "Incomplete", **extra: str) -> dict[str, str]:
    return {
        "sessionId": session_id,
        "serviceCode": "*384*12#",
        "networkCode": "63902",
        "phoneNumber": PHONE,
        "status": status,
        "cost": "KES 0.0500",
        "durationInMillis": "41000",
        "hopsCount": "4",
        "input": "1*1*123456",
        "lastAppResponse": "CON Référence ?",
        "errorMessage": "",
        "date": "2025-01-31 10:00:00",
        **extra,
    }


def _journey(client: FlaskClient, *inputs: str, phone_number: str = PHONE) -> str:
    # One phone per journey: a redial from the same phone would be offered "continue".
    phone = UssdPhone(client, phone=phone_number)
    phone.dial()
    if inputs:
        phone.type(*inputs)
    return phone.session_id


def test_an_event_is_stored_once_with_the_screens_reached(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    session_id = _journey(client, "1", "1")  # main -> tax_choose -> tax_ref
    first = client.post(URL, data=_event(session_id))
    again = client.post(URL, data=_event(session_id))  # AT retries
    assert (first.status_code, first.get_json()) == (200, {"status": "accepted"})
    assert (again.status_code, again.get_json()) == (200, {"status": "duplicate"})
    [event] = list(SessionEvents(redis_client, region="CD").read())
    assert event.path == ("main", "tax_choose", "tax_ref")
    assert (event.status, event.hops, event.duration_ms) == ("Incomplete", 4, 41000)
    assert event.phone_ref == logs.current_phone_ref(PHONE)
    [(_, raw)] = redis_client.xrange(stream_key())
    stored = b" ".join(raw.values())
    # Masked and hashed only; what the citizen typed and saw is not kept.
    assert PHONE.encode() not in stored
    assert b"123456" not in stored
    assert "Référence".encode() not in stored


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"sessionId": "s1"},
        {"sessionId": "s1", "status": "Bogus"},
        {"sessionId": "s 1;DROP", "status": "Success"},
        {"sessionId": "s1", "status": "Success", "phoneNumber": "not a phone"},
        {"sessionId": "s1", "status": "Success", "hopsCount": "-3"},
        {"sessionId": "s1", "status": "Success", "durationInMillis": "1e99"},
        {"sessionId": "s1", "status": "Success", "durationInMillis": "nan"},
        {"sessionId": "s1", "status": "Success", "hopsCount": "4 hops"},
    ],
)
def test_unusable_events_are_answered_200_and_not_stored(
    client: FlaskClient, redis_client: redis.Redis, form: dict[str, str]
) -> None:
    response = client.post(URL, data=form)
    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert redis_client.xlen(stream_key()) == 0


def test_numbers_written_as_floats_and_odd_network_codes_are_stored(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    # Some senders write AT's whole numbers as floats; a test client sends "sandbox".
    form = _event("ATUid_floats", durationInMillis="1234.0", hopsCount="3.0", networkCode="x")
    answer = client.post(URL, data=form)
    assert answer.get_json() == {"status": "accepted"}
    [event] = list(SessionEvents(redis_client, region="CD").read())
    assert (event.duration_ms, event.hops, event.network_code) == (1234, 3, "x")


def test_an_event_after_the_session_expired_has_no_path(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    answer = client.post(URL, data=_event("ATUid_gone", "Failed"))
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "accepted"}  # stored, just without a path
    [event] = list(SessionEvents(redis_client, region="CD").read())
    assert event.path == ()


def test_funnel_report_table_and_chart(
    client: FlaskClient,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Three sessions into the tax journey (one deeper), one into documents, one at home.
    journeys = [("1",), ("1",), ("1", "1"), ("2",), ()]
    statuses = ["Incomplete", "Failed", "Incomplete", "Incomplete", "Incomplete"]
    for n, (inputs, status) in enumerate(zip(journeys, statuses, strict=True)):
        session_id = _journey(client, *inputs, phone_number=f"+24381000010{n}")
        client.post(URL, data=_event(session_id, status))
    help_session = _journey(client, "8", phone_number="+243810000109")  # help: an END
    client.post(URL, data=_event(help_session, "Success"))
    monkeypatch.setenv("REDIS_URL", redis_url)
    png = tmp_path / "funnel.png"
    assert main(["report", "funnel", "--since", "1h", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("6 session(s)")
    assert "journey tax_choose: 3 session(s), 0 completed, 3 abandoned" in out
    lines = out.splitlines()
    tax = lines.index("journey tax_choose: 3 session(s), 0 completed, 3 abandoned")
    # screen, reached, abandoned here: two gave up on the list of taxes, one at the reference.
    assert lines[tax + 2].split() == ["tax_choose", "3", "2"]
    assert lines[tax + 3].split() == ["tax_ref", "1", "1"]
    assert "journey doc_choose: 1 session(s), 0 completed, 1 abandoned" in out
    assert "journey help: 1 session(s), 1 completed, 0 abandoned" in out
    assert "journey (main menu only): 1 session(s)" in out
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # --since after every event: nothing.
    assert main(["report", "funnel", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.startswith("0 session(s)")


def test_since_must_be_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "funnel", "--since", "last tuesday"]) == 2
    assert "--since" in capsys.readouterr().err
