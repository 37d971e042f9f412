"""What the `trading` commands share: consoles that wrap at the width asked for when they print."""

from __future__ import annotations

import pytest

from flows.cli_common import make_console

SENTENCE = " ".join(["word"] * 40)  # 199 characters


def test_a_console_wraps_at_the_columns_of_its_print_not_of_its_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # what the importing process had
    console = make_console()
    monkeypatch.setenv("COLUMNS", "250")  # what the caller sets for its command
    with console.capture() as captured:
        console.print(SENTENCE)
    assert captured.get().splitlines() == [SENTENCE]
