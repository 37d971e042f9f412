"""Validate decoded API records with pydantic; keep the ones that fail in raw.quarantine_records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from alpaca.common.rest import RESTClient
from loguru import logger
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Connection, text

from ingestion.db import RunRecord, record_run

M = TypeVar("M", bound=BaseModel)

# (record_key, reason, payload): what raw.quarantine_records keeps of one rejected record.
Rejected = tuple[str | None, str, Any]

MAX_VALUE_CHARS = 80

INSERT_QUARANTINED = text(
    "insert into raw.quarantine_records (kind, record_key, source, reason, payload) "
    "values (:kind, :record_key, :source, :reason, cast(:payload as jsonb)) "
    "on conflict (kind, source, reason, md5(payload::text)) do nothing"
)


@dataclass
class Checked(Generic[M]):
    """A validated batch: each valid record beside its original payload, and the rejected ones."""

    valid: list[tuple[M, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _describe(error: ErrorDetails) -> str:
    """`field: message (value 'x')`; a missing field has no value to show."""
    where = ".".join(str(part) for part in error["loc"]) or "record"
    if error["type"] == "missing":
        return f"{where}: {error['msg']}"
    value = repr(error["input"])
    if len(value) > MAX_VALUE_CHARS:
        value = value[: MAX_VALUE_CHARS - 3] + "..."
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message} (value {value})"


def validation_reason(error: ValidationError) -> str:
    """Turn a ValidationError into `qty: Input should be a valid decimal (value 'abc')`."""
    return "; ".join(_describe(e) for e in error.errors(include_url=False))


def record_key(record: Any, key_field: str) -> str | None:
    """The record's identifying field as text, when the record has one."""
    if isinstance(record, dict) and record.get(key_field) is not None:
        return str(record[key_field])
    return None


def check_records(model: type[M], records: Sequence[Any], key_field: str) -> Checked[M]:
    """Validate each record on its own, so one bad record rejects only itself."""
    checked: Checked[M] = Checked()
    for record in records:
        try:
            checked.valid.append((model.model_validate(record), record))
        except ValidationError as error:
            checked.rejected.append(
                (record_key(record, key_field), validation_reason(error), record)
            )
    return checked


def fetch_records(client: RESTClient, path: str, params: dict[str, Any] | None = None) -> list[Any]:
    """GET a JSON array as decoded records, unparsed (an empty body counts as no records)."""
    response = client.get(path, params)
    if response is None:
        return []
    if not isinstance(response, list):
        raise TypeError(f"GET {path} returned {type(response).__name__}, not a JSON array")
    return response


def payload_json(record: Any) -> str:
    """The original record as JSON text for a jsonb column."""
    return json.dumps(record, default=str)


def quarantine_records(
    conn: Connection, kind: str, source: str, rejected: Sequence[Rejected]
) -> int:
    """Keep rejected records with their reason; returns how many were rejected.

    A record already held from an earlier run (same kind, source, reason and payload) is not
    stored twice.
    """
    if not rejected:
        return 0
    conn.execute(
        INSERT_QUARANTINED,
        [
            {
                "kind": kind,
                "record_key": key,
                "source": source,
                "reason": reason,
                "payload": payload_json(payload),
            }
            for key, reason, payload in rejected
        ],
    )
    for key, reason, _ in rejected:
        logger.bind(kind=kind, source=source, record_key=key, reason=reason).warning(
            "record quarantined"
        )
    return len(rejected)


def record_sync(
    conn: Connection, run: RunRecord, fetched: int, changed: int, quarantined: int
) -> None:
    """Fill in and write the run record of a reference-data sync (landed = new or changed)."""
    run.fetched, run.landed, run.quarantined = fetched, changed, quarantined
    run.unchanged = fetched - changed - quarantined
    record_run(conn, run, "succeeded")
