"""The hop handler end to end on a real Redis, driven like Africa's Talking drives it."""

from __future__ import annotations

import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import runtime
from menus.hop import HopHandler, UssdReply, UssdRequest, latest_input
from menus.model import MenuSpec
from sessions.store import SessionStore, lock_key, resume_key, session_key
from tests.menus.conftest import (
    HandlerFactory,
    Phone,
    RecordingEnqueuer,
    SlowGate,
    build_registry,
    stored,
)
from text.encoding import cost


def lines(reply: UssdReply) -> list[str]:
    return reply.body.split("\n")


def test_first_dial_shows_the_home_menu_in_french(phone: Phone) -> None:
    reply = phone.dial()
    assert not reply.end
    assert reply.wire().startswith("CON Test Testville\n1. Articles\n2. Référence")
    assert "0. Retour" not in lines(reply)  # nothing to go back to yet


def test_static_menu_leads_to_input_then_action_then_menu_then_end(phone: Phone) -> None:
    phone.dial()
    assert lines(phone.type("2"))[0] == "Référence (3 chiffres)"
    reply = phone.type("123")
    assert lines(reply)[0] == "123: Name 123"
    assert "1. Confirmer" in lines(reply)
    final = phone.type("1")
    assert final == UssdReply(True, "Confirmé 123")
    assert final.wire() == "END Confirmé 123"


def test_action_outcome_branches(phone: Phone) -> None:
    phone.dial()
    assert phone.type("2", "999") == UssdReply(True, "Inconnu 999")


def test_dynamic_options_come_from_the_action(phone: Phone) -> None:
    phone.dial()
    reply = phone.type("1", "3")
    assert lines(reply) == [
        "Choisissez",
        "1. Item 1",
        "2. Item 2",
        "3. Item 3",
        "0. Retour",
        "00. Accueil",
    ]
    assert phone.type("2") == UssdReply(True, "Choisi item-2")


def test_dynamic_options_paginate_with_continuous_numbers(phone: Phone) -> None:
    phone.dial()
    first = phone.type("1", "120")
    assert "98. Suite" in lines(first)
    assert "99. Précédent" not in lines(first)
    assert cost(first.body).units <= 182
    seen: list[int] = []
    reply = first
    pages = 1
    while "98. Suite" in lines(reply):
        seen += [int(line.split(".")[0]) for line in lines(reply) if ". Item " in line]
        reply = phone.type("98")
        pages += 1
        assert "99. Précédent" in lines(reply)
        assert cost(reply.body).units <= 182
    seen += [int(line.split(".")[0]) for line in lines(reply) if ". Item " in line]
    assert pages > 2
    expected = [n for n in range(1, 123) if n not in (98, 99)][:120]
    assert seen == expected  # 1..n across pages, skipping the navigation keys
    back = phone.type("99")
    assert "98. Suite" in lines(back)
    # A key shown on another page still works: numbers are unique across pages.
    assert phone.type("5") == UssdReply(True, "Choisi item-5")


def test_item_keyed_beyond_the_reserved_numbers(phone: Phone) -> None:
    phone.dial()
    phone.type("1", "120")
    # The 98th item is numbered 100: 98 and 99 stay navigation keys.
    assert phone.type("100") == UssdReply(True, "Choisi item-98")


def test_long_static_menu_paginates_within_the_gsm7_budget(phone: Phone) -> None:
    phone.dial()
    first = phone.type("10")
    assert cost(first.body).encoding == "GSM-7"
    assert cost(first.body).units <= 182
    assert "98. Suite" in lines(first)
    assert "8. Option numéro huit avec un libellé assez long" not in lines(first)
    second = phone.type("98")
    assert cost(second.body).units <= 182
    text = first.body + second.body
    if "98. Suite" in lines(second):
        text += phone.type("98").body
    assert "8. Option numéro huit avec un libellé assez long" in text
    assert phone.type("8") == UssdReply(True, "Huit")


def test_long_end_text_is_paged_then_ends(phone: Phone) -> None:
    phone.dial()
    first = phone.type("3")
    assert not first.end
    assert lines(first)[-1] == "98. Suite"
    assert cost(first.body).units <= 182
    reply = first
    bodies = [first.body]
    while not reply.end:
        reply = phone.type("98")
        bodies.append(reply.body)
        assert cost(reply.body).units <= 182
    assert "dernière page de ce texte de test qui est vraiment long." in reply.body
    assert len(bodies) >= 2


def test_ucs2_text_is_paged_within_80_units(phone: Phone) -> None:
    phone.dial()
    reply = phone.type("4")
    assert not reply.end
    pages = [reply]
    while not reply.end:
        reply = phone.type("98")
        pages.append(reply)
    assert cost(pages[0].body).encoding == "UCS-2"
    assert cost(pages[0].body).units <= 80
    for page in pages:
        assert cost(page.body).fits_ussd  # each page is measured in its own encoding
    words = " ".join(
        p.body.replace("\n98. Suite", "").replace("\n99. Précédent", "") for p in pages
    )
    assert "Fenêtre ouverte" in words and "décrits ici." in words


def test_back_and_home(phone: Phone) -> None:
    phone.dial()
    phone.type("2")
    assert lines(phone.type("0"))[0] == "Test Testville"
    phone.type("1", "3")  # count -> items
    assert lines(phone.type("0"))[0] == "Combien ?"
    phone.type("3")
    assert lines(phone.type("00"))[0] == "Test Testville"
    assert lines(phone.type("0"))[0] == "Test Testville"  # back at home stays home


def test_invalid_choice_then_three_tries_end(phone: Phone) -> None:
    phone.dial()
    reply = phone.type("42")
    assert lines(reply)[:2] == ["Choix invalide.", "Test Testville"]
    phone.type("43")
    assert phone.type("44") == UssdReply(True, "Trop d'essais.")


def test_invalid_input_shows_the_validator_error(phone: Phone) -> None:
    phone.dial()
    phone.type("2")
    reply = phone.type("12")
    assert lines(reply)[:2] == ["3 chiffres svp.", "Référence (3 chiffres)"]
    assert lines(phone.type("1234"))[0] == "3 chiffres svp."
    assert phone.type("abc").end


def test_a_valid_answer_resets_the_tries(phone: Phone) -> None:
    phone.dial()
    phone.type("42", "43", "1")
    reply = phone.type("0")  # still alive
    assert lines(reply)[0] == "Combien ?" or lines(reply)[0] == "Test Testville"
    assert not reply.end


def test_phone_validator_saves_e164(phone: Phone) -> None:
    phone.dial()
    phone.type("5")
    assert lines(phone.type("12345"))[0] == "Saisie invalide."
    assert phone.type("0991234567") == UssdReply(True, "Numéro +243991234567")


def test_an_input_containing_a_star(phone: Phone, redis_client: redis.Redis) -> None:
    phone.dial()
    phone.type("9")
    assert phone.type("12*34") == UssdReply(True, "Note 12*34")
    session = stored(redis_client, "s1")
    assert session is not None and session.data["note"] == "12*34"


def test_latest_input() -> None:
    assert latest_input("", "1") == "1"
    assert latest_input("1", "1*12*34") == "12*34"
    assert latest_input("1*2", "9*9*7") == "7"  # history diverged: last field
    assert latest_input("1*2", "5", cumulative=False) == "5"


def test_language_switch_persists_to_the_next_session(phone: Phone) -> None:
    phone.dial()
    assert lines(phone.type("6", "2"))[0] == "Test Testville EN"
    reply = phone.type("00")
    assert lines(reply)[1] == "1. Items"
    other_session = phone.dial(session="s2")
    assert lines(other_session)[0] == "Test Testville EN"
    phone.type("6", "3")
    assert lines(Phone(phone.handler, session="s3").dial())[0] == "Test Testville SW"
    # Another phone keeps the default language.
    assert lines(Phone(phone.handler, msisdn="+243810000002", session="s4").dial())[0] == (
        "Test Testville"
    )


def test_resume_after_a_drop_continue(phone: Phone) -> None:
    phone.dial()
    phone.type("1", "5")  # dropped while choosing among 5 items
    reply = phone.dial(session="s2")
    assert lines(reply) == ["Session interrompue.", "1. Continuer", "2. Recommencer"]
    resumed = phone.type("1")
    assert lines(resumed)[0] == "Choisissez"
    assert "5. Item 5" in lines(resumed)
    assert "0. Retour" in lines(resumed)
    assert phone.type("4") == UssdReply(True, "Choisi item-4")
    # The journey ended: nothing left to resume.
    assert lines(phone.dial(session="s3"))[0] == "Test Testville"


def test_resume_after_a_drop_start_over(phone: Phone) -> None:
    phone.dial()
    phone.type("2")
    phone.dial(session="s2")
    assert lines(phone.type("2"))[0] == "Test Testville"
    assert lines(phone.dial(session="s3"))[0] == "Test Testville"


def test_no_resume_offer_after_a_clean_end(phone: Phone) -> None:
    phone.dial()
    phone.type("2", "999")
    assert lines(phone.dial(session="s2"))[0] == "Test Testville"


def test_retried_hop_replays_and_changes_nothing(
    phone: Phone, redis_client: redis.Redis, enqueuer: RecordingEnqueuer
) -> None:
    phone.dial()
    first = phone.type("2", "123")
    before = redis_client.get(session_key("s1"))
    assert phone.resend() == first
    assert redis_client.get(session_key("s1")) == before
    assert len(enqueuer.recorded) == 1  # the effect was not enqueued twice
    assert phone.resend() == first


def test_retried_first_hop_replays(phone: Phone, redis_client: redis.Redis) -> None:
    first = phone.dial()
    before = redis_client.get(session_key("s1"))
    assert phone.resend() == first
    assert redis_client.get(session_key("s1")) == before


def test_effects_are_enqueued_after_the_session_is_saved(
    phone: Phone, enqueuer: RecordingEnqueuer
) -> None:
    phone.dial()
    phone.type("2", "123")
    [recorded] = enqueuer.recorded
    assert recorded.effect.func == "tests.menus.jobs.notify"
    assert recorded.effect.args == ("123",)
    assert recorded.session is not None and recorded.session.state == "found"
    assert recorded.session.data["name"] == "Name 123"
    assert not recorded.locked


def test_action_error_goes_to_the_error_outcome(phone: Phone) -> None:
    phone.dial()
    assert phone.type("7") == UssdReply(True, "Désolé")


def test_action_error_without_error_outcome_ends_politely(phone: Phone) -> None:
    phone.dial()
    assert phone.type("8") == UssdReply(True, "Service indisponible.")


def test_empty_dynamic_menu_goes_to_its_empty_screen(phone: Phone) -> None:
    phone.dial()
    assert phone.type("11") == UssdReply(True, "Aucun élément")


def test_expired_session_is_a_polite_new_dial(phone: Phone, redis_client: redis.Redis) -> None:
    phone.dial()
    phone.type("9")
    ttl = redis_client.pttl(session_key("s1"))
    assert 0 < ttl <= 120_000
    redis_client.delete(session_key("s1"), resume_key(phone.msisdn))  # what expiry does
    reply = phone.type("hello")
    assert lines(reply)[0] == "Test Testville"
    assert not reply.end
    assert lines(phone.type("2"))[0] == "Référence (3 chiffres)"  # and the session goes on


def test_a_hop_after_the_end_starts_over(phone: Phone) -> None:
    phone.dial()
    phone.type("2", "999")
    assert lines(phone.type("1"))[0] == "Test Testville"


def test_concurrent_hops_of_one_session_are_serialised(
    handler: HopHandler, gate: SlowGate, redis_client: redis.Redis
) -> None:
    phone = Phone(handler)
    phone.dial()
    phone.text = "12"
    request = phone.request()
    replies: list[UssdReply] = []

    def hop() -> None:
        replies.append(handler.handle(request))

    first = threading.Thread(target=hop)
    first.start()
    assert gate.started.wait(10)
    second = threading.Thread(target=hop)
    second.start()  # the same hop, retried while the first still runs
    second.join(0.3)  # give it the chance to slip through if nothing stopped it
    gate.release.set()
    first.join(10)
    second.join(10)
    assert gate.calls == 1  # the retry waited for the lock, then replayed
    assert replies == [UssdReply(True, "Fini"), UssdReply(True, "Fini")]
    assert not redis_client.exists(lock_key("s1"))


def test_a_hop_that_cannot_get_the_lock_gets_a_polite_end(
    make_handler: HandlerFactory, gate: SlowGate
) -> None:
    handler = make_handler(lock_wait_seconds=0)
    phone = Phone(handler)
    phone.dial()
    phone.text = "12"
    request = phone.request()
    thread = threading.Thread(target=handler.handle, args=(request,))
    thread.start()
    assert gate.started.wait(10)
    try:
        assert handler.handle(request) == UssdReply(True, "Patientez.")
    finally:
        gate.release.set()
        thread.join(10)


def test_bad_request_and_unavailable_in_the_default_language(handler: HopHandler) -> None:
    assert handler.bad_request() == UssdReply(True, "Demande invalide.")
    assert handler.unavailable().wire() == "END Service indisponible."


def test_redis_down_gives_the_unavailable_end(spec: MenuSpec, enqueuer: RecordingEnqueuer) -> None:
    no_retry = Retry(NoBackoff(), 0)
    dead = redis.Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=no_retry)
    store = SessionStore(dead, ttl_seconds=60, resume_window_seconds=60)
    handler = HopHandler(spec, store, enqueuer, runtime.Container(), registry=build_registry())
    reply = handler.handle(UssdRequest("s1", "+243810000001", "*384*99#", "1", ""))
    assert reply == UssdReply(True, "Service indisponible.")


@pytest.mark.parametrize("lang", ["fr", "en", "sw"])
def test_every_message_exists_in_every_language(spec: MenuSpec, lang: str) -> None:
    for key in spec.messages:
        assert spec.messages[key].variants[lang].source
