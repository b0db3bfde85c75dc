"""Every Redis key, rq queue name and rq job id of one installation, under its prefix.

Two installations on one Redis must never read each other's keys nor take each other's
jobs: every store builds its keys here, `<REDIS_PREFIX>:<area>:...` (default prefix
`guichet`), rq queues are `<prefix>:<queue>` and rq job ids `<prefix>-<id>`. The composition
root sets the prefix once per process (`use_prefix`), like the service container: one
installation per process.

Redis Cluster runs a script or a MULTI only on keys of one hash slot, and hashes only the
part of a key inside its first `{...}`. `tag(value)` marks that part: keys that travel
together carry the same tag (`guichet:ussd:lock:{<session>}` and `guichet:ussd:s:{<session>}`).
The prefix never holds a brace, so a tag is always the first one; put the tag before any
part that comes from outside (a provider's id could hold a brace).
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_PREFIX: Final = "guichet"
PREFIX_SHAPE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")

_prefix = DEFAULT_PREFIX


class PrefixError(ValueError):
    """A prefix that would not fit a key name, a queue name and an rq job id."""


def check_prefix(prefix: str) -> str:
    """Return `prefix` when usable in keys, queue names and rq job ids; else raise."""
    if not PREFIX_SHAPE.fullmatch(prefix):
        raise PrefixError(
            f"{prefix!r} is not a key prefix: 1-32 of a-z, 0-9, _ and -, starting with a "
            "letter or digit"
        )
    return prefix


def use_prefix(prefix: str) -> None:
    """Make `prefix` this process's namespace (the composition root calls it once)."""
    global _prefix  # noqa: PLW0603 - one installation per process, set by the composition root
    _prefix = check_prefix(prefix)


def current_prefix() -> str:
    """Return this process's prefix."""
    return _prefix


def key(*parts: str | int) -> str:
    """Return `<prefix>:<part>:<part>...`, e.g. key("sms", "msg", id)."""
    return ":".join((_prefix, *map(str, parts)))


def tag(value: str) -> str:
    """Return `value` as a hash tag: keys with the same tag share one Cluster slot."""
    if "{" in value or "}" in value:
        raise ValueError("a hash tag cannot hold a brace")
    return "{" + value + "}"


def queue(name: str) -> str:
    """Return the rq queue name of our queue `name` (QueueNames) in this installation."""
    return f"{_prefix}:{name}"


def job_id(plain: str) -> str:
    """Return the rq job id of `plain` in this installation (rq ids are global on a Redis)."""
    return f"{_prefix}-{plain}"


def phone_language(msisdn: str) -> str:
    """Return the key of a phone's preferred language (sessions and SMS read it)."""
    return key("ussd", "lang", tag(msisdn))


# Held under phone_language() when SQL was asked and knows no language for the phone (for a
# day): a dial then reads "none chosen" with the session instead of asking SQL every time.
# Every language write replaces it; readers take it as "no language".
NO_LANGUAGE: Final = "-"
NO_LANGUAGE_TTL_SECONDS: Final = 24 * 3600


def console_session(token_digest: str) -> str:
    """Return the key of a console session (by the SHA-256 of its cookie, never the cookie)."""
    return key("console", "session", token_digest)


def console_user_sessions(user_id: int) -> str:
    """Return the key of the set of a staff member's session digests (to end them all)."""
    return key("console", "user", user_id)
