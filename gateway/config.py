"""Settings: embedded defaults, then the environment, then an explicit mapping (tests).

Every setting is one field with its environment variable and default beside it; the README's
configuration table is checked against this list by a test.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Environment = Literal["development", "production"]


class ConfigError(ValueError):
    """A setting is missing or malformed; the process must not start."""


def _setting(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a Guichet process can be told from outside."""

    env: Environment = _setting(
        "GUICHET_ENV",
        "development",
        "development or production (production refuses unsafe defaults)",
    )
    redis_url: str = _setting("REDIS_URL", "redis://127.0.0.1:6379/0", "sessions, queues, limits")
    redis_socket_timeout: float = _setting(
        "REDIS_SOCKET_TIMEOUT", 0.5, "seconds before a Redis call is abandoned"
    )
    emulate_redis: bool = _setting(
        "GUICHET_EMULATE_REDIS", False, "in-process Redis emulation, jobs run inline (dev only)"
    )
    database_url: str = _setting(
        "DATABASE_URL", "sqlite:///var/guichet.db", "civic back office (SQLite or PostgreSQL)"
    )
    menus_path: str = _setting("MENUS_PATH", "menus.yaml", "the city's menus, texts and templates")
    log_level: str = _setting("LOG_LEVEL", "INFO", "root log level")
    api_keys: str = _setting(
        "API_KEYS",
        "",
        "comma-separated id:scope:sha256hex entries (`python -m gateway hash-key`); "
        "development falls back to the demo keys demo-agent-key and demo-portal-key",
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Settings:
        """Build settings from defaults, `environ` (os.environ by default), then `overrides`."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, f.type, raw)
        for name, value in (overrides or {}).items():
            if name not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"unknown setting {name!r}")
            values[name] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values that cannot work."""
        if self.env not in get_args(Environment):
            raise ConfigError(f"GUICHET_ENV must be development or production, not {self.env!r}")
        if self.env == "production" and self.emulate_redis:
            raise ConfigError("GUICHET_EMULATE_REDIS is for development only")

    @classmethod
    def documented(cls) -> list[tuple[str, str, str]]:
        """Return (env var, default, meaning) for every setting, for the README."""
        return [
            (f.metadata["env"], str(f.default), f.metadata["doc"]) for f in dataclasses.fields(cls)
        ]


def _coerce(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {kind}") from None
    return raw
