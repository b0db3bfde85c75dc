"""Going live: `python -m gateway check`, the start-up refusal, the development warning, README."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

import runtime
from civic import sql
from civic.seed import demo_data, seed_demo
from gateway import golive
from gateway.app import create_app
from gateway.cli import check as check_command
from gateway.cli import main
from gateway.cli.check import BEGIN, END, render_checklist, replace_checklist
from gateway.config import ConfigError, Settings
from gateway.schema import seed_demo as seed_demo_command
from runtime.sealing import DEVELOPMENT_KEY
from tests.hardening.test_production_settings import COMPLETE

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The default pack's `city:` block (its defaults, one key a line), replaced whole.
CITY_BLOCK = re.compile(r"^city:\n(?:  .*\n)+", re.MULTILINE)
NAIROBI = "city: {id: nairobi, name: Nairobi, country: KE, currency: KES, timezone: Africa/Nairobi}"


def kenyan_menus(tmp_path: Path) -> Path:
    """Return the shipped menus.yaml moved to Nairobi (KES): a city Daraja can serve."""
    text = (ROOT / "menus.yaml").read_text(encoding="utf-8")
    assert CITY_BLOCK.search(text)
    path = tmp_path / "nairobi.yaml"
    path.write_text(CITY_BLOCK.sub(NAIROBI + "\n", text, count=1), encoding="utf-8")
    return path


def live_env(tmp_path: Path, redis_url: str, **extra: str) -> dict[str, str]:
    """Return the environment of a deployment production accepts (Nairobi on Daraja)."""
    return {
        **COMPLETE,
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
        "MENUS_PATH": str(kenyan_menus(tmp_path)),
        **extra,
    }


def check(environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `python -m gateway check` in this process on `environ`; return (status, stdout)."""
    status = check_command.report(environ)
    return status, capsys.readouterr().out


def test_a_live_deployment_is_ready(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = live_env(tmp_path, redis_url)
    sql.migrate(env["DATABASE_URL"])  # an empty production database
    assert check(env, capsys) == (0, "ready to go live\n")


def test_the_command_exits_1_with_the_list_and_0_when_ready(tmp_path: Path, redis_url: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GUICHET_", "PAYMENT_"))}
    ready = subprocess.run(
        [sys.executable, "-m", "gateway", "check"],
        env={**base, **live_env(tmp_path, redis_url)},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (ready.returncode, ready.stdout) == (0, "ready to go live\n"), ready.stderr
    refused = subprocess.run(
        [sys.executable, "-m", "gateway", "check"],
        env={**base, "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}"},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stdout.startswith("production would refuse to start")
    for setting in ("GUICHET_ENV", "PAYMENT_OPERATORS", "SMS_PROVIDER", "API_KEYS",
                    "SIMULATOR_ENABLED", "RECEIPT_KEY is missing"):  # fmt: skip
        assert setting in refused.stdout
    assert not (tmp_path / "dev.db").exists()  # checking never creates the database


def test_check_lists_every_problem_including_the_database_and_the_currency(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = live_env(
        tmp_path,
        redis_url,
        MENUS_PATH=str(ROOT / "menus.yaml"),  # Goma pays in CDF, Daraja takes KES
        PAYMENT_OPERATORS="mpesa:daraja,airtel:sandbox",
        SMS_PROVIDER="console",
        SIMULATOR_ENABLED="1",
        OTP_KEY="u" * 24,  # the USSD token again
    )
    seed_demo(env["DATABASE_URL"])
    status, out = check(env, capsys)
    assert status == 1
    lines = [line for line in out.splitlines() if line.startswith("  - ")]
    expected = [
        "PAYMENT_OPERATORS: airtel:sandbox use the sandbox provider",
        "SMS_PROVIDER: console",
        "SIMULATOR_ENABLED",
        "USSD_CALLBACK_TOKEN and OTP_KEY: one value for 2 secrets",
        "DATABASE_URL: holds the demo city Goma (loaded by seed-demo)",
        "PAYMENT_OPERATORS: mpesa:daraja takes KES, not the city's CDF",
    ]
    for words in expected:
        assert sum(words in line for line in lines) == 1, (words, out)
    assert len(lines) == len(expected)
    assert f"({len(expected)} problems)" in out
    assert "u" * 24 not in out


def test_an_unconfigured_adapter_and_a_malformed_setting_are_problems_too(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = live_env(tmp_path, redis_url)
    del env["DARAJA_PASSKEY"]
    status, out = check(env, capsys)
    assert status == 1 and "the daraja provider needs DARAJA_PASSKEY" in out
    status, out = check({**live_env(tmp_path, redis_url), "RATE_API_PER_IP": "lots"}, capsys)
    assert status == 1 and "RATE_API_PER_IP" in out


def test_an_unreachable_database_cannot_be_declared_ready(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://guichet:x@127.0.0.1:{port}/guichet"
    status, out = check(live_env(tmp_path, redis_url, DATABASE_URL=url), capsys)
    assert status == 1 and "DATABASE_URL: unreachable" in out


def production_app(env: dict[str, str]) -> Any:
    """Build the app from `env` as a production process would (os.environ untouched)."""
    settings = Settings.from_env(env)
    return create_app(
        {f.name: getattr(settings, f.name) for f in settings.__dataclass_fields__.values()}
    )


def test_production_starts_on_a_live_configuration(tmp_path: Path, redis_url: str) -> None:
    env = live_env(tmp_path, redis_url)
    sql.migrate(env["DATABASE_URL"])
    app = production_app(env)
    try:
        assert app.config["SETTINGS"].env == "production"
    finally:
        runtime.uninstall()


def test_production_refuses_demo_data_and_a_refused_currency_in_one_error(
    tmp_path: Path, redis_url: str
) -> None:
    env = live_env(tmp_path, redis_url, MENUS_PATH=str(ROOT / "menus.yaml"))
    seed_demo(env["DATABASE_URL"])
    with pytest.raises(ConfigError) as refused:
        production_app(env)
    runtime.uninstall()
    message = str(refused.value)
    assert message.startswith("production refuses to start: ")
    assert "DATABASE_URL: holds the demo city Goma" in message
    assert "mpesa:daraja takes KES, not the city's CDF" in message


def test_a_database_seeded_before_the_mark_is_still_found(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    seed_demo(url)
    engine = sql.make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(sql.seed_marks))
        assert demo_data(engine) == "demo requests decided by seed-demo's agent"
        with engine.begin() as conn:
            conn.execute(
                delete(sql.request_history).where(sql.request_history.c.agent_id == "seed")
            )
        assert demo_data(engine) is None
    finally:
        engine.dispose()


def test_development_says_once_that_it_is_play_money(
    app_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.golive"):
        create_app(app_config)
    runtime.uninstall()
    warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.golive"]
    assert len(warnings) == 1
    assert warnings[0].startswith("PLAY MONEY (development)")
    for setting in ("PAYMENT_OPERATORS", "SMS_PROVIDER", "API_KEYS", "SIMULATOR_ENABLED"):
        assert setting in warnings[0]


def test_the_readme_checklist_is_the_enforced_one() -> None:
    text = README.read_text(encoding="utf-8")
    assert replace_checklist(text) == text, "run python -m gateway check --write README.md"
    going_live = text.split("## Going live", 1)[1].split("\n## ", 1)[0]
    assert render_checklist() in going_live
    assert "### Payment providers" in going_live


def test_every_family_of_refusal_is_on_the_checklist() -> None:
    checklist = render_checklist()
    for word in ("GUICHET_ENV", "API_KEYS", "demo-agent-key", ":sandbox", "currency",
                 "SMS_PROVIDER", "AT_USERNAME", "*_URL", "PUBLIC_BASE_URL", "SIMULATOR_ENABLED",
                 "GUICHET_EMULATE_REDIS", "seed-demo", "its own value"):  # fmt: skip
        assert word in checklist
    stale = f"a\n{BEGIN}\nold\n{END}\nb\n"
    assert replace_checklist(stale) == f"a\n{BEGIN}\n{render_checklist()}\n{END}\nb\n"
    assert main(["check", "--checklist"]) == 0
    assert golive.READY == "ready to go live"


def test_seed_demo_refuses_a_production_database(tmp_path: Path, redis_url: str) -> None:
    env = live_env(tmp_path, redis_url)
    settings = Settings.from_env(env)
    with pytest.raises(ConfigError, match="seed-demo"):
        seed_demo_command(settings)
    assert not (tmp_path / "live.db").exists()


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ("", "PERSONAL_DATA_KEYS is missing"),
        ("not-a-fernet-key-at-all-0123456789", "PERSONAL_DATA_KEYS: key 1 is not a Fernet key"),
        (DEVELOPMENT_KEY, "PERSONAL_DATA_KEYS: holds the development key"),
    ],
)
def test_production_refuses_to_start_without_a_real_personal_data_key(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str], keys: str, says: str
) -> None:
    env = live_env(tmp_path, redis_url, PERSONAL_DATA_KEYS=keys)
    sql.migrate(env["DATABASE_URL"])
    status, out = check(env, capsys)
    assert status == 1
    assert says in out
    with pytest.raises(ConfigError, match="PERSONAL_DATA_KEYS"):
        golive.refuse_or_warn(Settings.from_env(env), {}, "KES")
