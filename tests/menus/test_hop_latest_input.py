"""The engine on latest-only protocols (Hubtel, Nalo, Arkesel): hop marks, new-session hops.

Protocol-free: requests are built here as the adapters of gateway/aggregators/ build them.
"""

from __future__ import annotations

import redis

from menus.hop import HopHandler, UssdReply, UssdRequest
from sessions.store import session_key
from tests.menus.conftest import PHONE, RecordingEnqueuer


def hop(
    handler: HopHandler, text: str, *, mark: str = "", new: bool = False, session: str = "h1"
) -> UssdReply:
    request = UssdRequest(
        session, PHONE, "*384*99#" if new else "", "", text, False, hop_mark=mark, new_session=new
    )
    return handler.handle(request)


def test_a_hop_mark_replays_a_retry_and_tells_the_same_answer_typed_again(
    handler: HopHandler, redis_client: redis.Redis, enqueuer: RecordingEnqueuer
) -> None:
    home = hop(handler, "", mark="1", new=True)
    assert hop(handler, "", mark="1", new=True) == home  # the first hop, retried
    asked = hop(handler, "2", mark="2")
    assert asked.body.startswith("Référence")
    confirm = hop(handler, "123", mark="3")
    before = redis_client.get(session_key("h1"))
    assert hop(handler, "123", mark="3") == confirm  # retried: nothing changes
    assert redis_client.get(session_key("h1")) == before
    assert hop(handler, "1", mark="4") == UssdReply(True, "Confirmé 123")
    assert len(enqueuer.recorded) == 1


def test_without_a_mark_the_same_answer_again_is_a_new_answer(handler: HopHandler) -> None:
    hop(handler, "", new=True)
    asked = hop(handler, "2")
    again = hop(handler, "2")  # "2" is no three-digit reference: refused, not replayed
    assert again.body == "3 chiffres svp.\n" + asked.body


def test_a_new_session_hop_restarts_a_known_session_from_the_top(handler: HopHandler) -> None:
    home = hop(handler, "", new=True, session="nalo-1")
    assert home.body.startswith("Test Testville\n1. Articles")
    assert hop(handler, "2", session="nalo-1").body.startswith("Référence")
    # Nalo keys every session of a phone on one id: MSGTYPE true starts over, not an empty
    # answer to "Référence"; the dropped journey is offered, as for any redial after a drop.
    restarted = hop(handler, "", new=True, session="nalo-1")
    assert restarted.body.split("\n") == ["Session interrompue.", "1. Continuer", "2. Recommencer"]
    assert hop(handler, "2", session="nalo-1") == home  # start over


def test_a_hop_after_the_end_replays_the_end_and_runs_nothing_twice(
    handler: HopHandler, enqueuer: RecordingEnqueuer
) -> None:
    hop(handler, "", new=True)
    hop(handler, "2")
    hop(handler, "123")
    final = hop(handler, "1")
    assert final == UssdReply(True, "Confirmé 123")
    assert hop(handler, "1") == final  # our END was lost: the aggregator retried
    assert len(enqueuer.recorded) == 1
