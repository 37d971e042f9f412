"""The `.env` file: which one (TRADING_ENV_FILE, else `./.env`), its values and their lines."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from dotenv.parser import parse_stream

ENV_FILE_VARIABLE = "TRADING_ENV_FILE"
DEFAULT_ENV_FILE = Path(".env")
SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN")


class EnvFileError(ValueError):
    """The `.env` file is missing or a line does not parse; the message names file and line."""


@dataclass(frozen=True)
class EnvFile:
    """One parsed `.env` file: each variable (lower-case name) with its value and line number."""

    path: Path
    values: dict[str, str]
    lines: dict[str, int]


def env_file_path() -> Path | None:
    """The file named by TRADING_ENV_FILE (which must exist), else `./.env` when present."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise EnvFileError(f"{ENV_FILE_VARIABLE}={named!r}: no such file")
        return path.resolve()
    return DEFAULT_ENV_FILE.resolve() if DEFAULT_ENV_FILE.is_file() else None


def mask_line(line: str) -> str:
    """A `.env` line fit to print: the value hidden when the name looks like a secret."""
    text = line.strip()
    name = re.split(r"[=\s]", text, maxsplit=1)[0]
    if any(word in name.upper() for word in SECRET_WORDS):
        return f"{name} {mask(text[len(name) :].strip())}"
    return text


def mask(value: str) -> str:
    """`****` and the last two characters: enough to tell two keys apart, never the key."""
    return "****" + value[-2:] if len(value) > 4 else "****"


def read_env_file(path: Path) -> EnvFile:
    """Parse `path` as python-dotenv does; a line that does not parse is an error naming it."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            # A binding's text starts with the blank lines before it; its own line is after them.
            original = binding.original.string
            blank = original[: len(original) - len(original.lstrip())]
            line = binding.original.line + blank.count("\n")
            if binding.error:
                raise EnvFileError(
                    f"{path}, line {line}: cannot parse {mask_line(binding.original.string)!r} "
                    "(expected NAME=value)"
                )
            if binding.key is None or binding.value is None:
                continue
            values[binding.key.lower()] = binding.value
            lines[binding.key.lower()] = line
    return EnvFile(path, values, lines)


def current_env_file() -> EnvFile | None:
    """The `.env` file in force now, parsed, or None when there is none."""
    path = env_file_path()
    return read_env_file(path) if path is not None else None
