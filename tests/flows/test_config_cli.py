"""`trading config`: what is in force, from where, and where it points; never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

KEY = "PKCONFIGKEY1234"
SECRET = "sk-config-secret-5678"
PASSWORD = "db-pass-9012"


def test_config_names_each_origin_and_target_and_never_prints_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRADING_ENV_FILE")
    (tmp_path / ".env").write_text(
        f"ALPACA_API_KEY={KEY}\n"
        f"ALPACA_SECRET_KEY={SECRET}\n"
        f"DATABASE_URL=postgresql://trader:{PASSWORD}@db.internal:6543/books?sslmode=require\n"
        "TRADING_MODE=live\n"
    )
    env = {
        "COLUMNS": "250",
        "TRADING_MODE": "paper",  # the environment wins over the file's live
        "ALPACA_TRADING_URL": "http://127.0.0.1:8765",
        "ALPACA_DATA_URL": None,
        "DATABASE_URL": None,
        "ALPACA_API_KEY": None,
        "ALPACA_SECRET_KEY": None,
    }

    result = CliRunner().invoke(app, ["config"], env=env)

    assert result.exit_code == 0, result.output
    output = result.output
    for secret in (KEY, SECRET, PASSWORD):
        assert secret not in output
    assert "****34" in output and "****78" in output and "****12" in output
    lines = {line.split()[1]: line for line in output.splitlines() if line.startswith("│")}
    assert f"{tmp_path / '.env'}, line 1" in lines["ALPACA_API_KEY"]
    assert "environment" in lines["TRADING_MODE"] and "paper" in lines["TRADING_MODE"]
    assert "default" in lines["OUTSIDE_HOURS"]
    assert "database: books on db.internal:6543" in output
    assert "Alpaca: PAPER trading at http://127.0.0.1:8765" in output
