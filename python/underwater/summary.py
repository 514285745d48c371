"""summary.json as typed Python objects: ``Decimal`` for money, ratios and counts written as text,
``datetime.date`` for dates, ``str`` for ids, labels, names and paths; records read by attribute or key
(``run.summary.portfolio.negative_equity`` or ``run.summary["portfolio"]["negative_equity"]``)."""

from __future__ import annotations

import datetime as _dt
import json
import re
from decimal import Decimal
from typing import Any

_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Keys whose values are text even when they look like numbers or dates (an account id "100234", a
# dealer "0042", a vintage label "2019"), and keys whose every value below is text.
_TEXT_KEYS = frozenset(
    {"account_id", "vin", "name", "version", "program", "command", "path", "sha256", "digest",
     "note", "rule", "reason", "method", "group", "segment", "format", "tape", "value_source",
     "as_of_source", "config_file", "price_index", "started_at", "finished_at"}
)
_TEXT_TREES = frozenset({"outputs", "columns", "inputs", "rows_origination_ltv_bucket",
                         "columns_current_ltv_bucket", "segments", "rules", "missing"})


class Record(dict):
    """A summary.json object: a dict whose keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _is_text(key: str, value: Any, labels: frozenset[str]) -> bool:
    """Whether a key's value is text: a text key, a text tree, or a row's label. A label is a scalar:
    the table named like its label column (``tables.ltv_bucket``) holds figures, not labels."""
    if key in _TEXT_TREES or key in _TEXT_KEYS:
        return True
    return key in labels and not isinstance(value, (dict, list))


def _typed(value: Any, text: bool, labels: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return Record((k, _typed(v, text or _is_text(k, v, labels), labels)) for k, v in value.items())
    if isinstance(value, list):
        return [_typed(v, text, labels) for v in value]
    if isinstance(value, str) and not text:
        if _NUMBER.fullmatch(value):
            return Decimal(value)
        if _DATE.fullmatch(value):
            return _dt.date.fromisoformat(value)
    if isinstance(value, float):
        # summary.json writes no binary float; should one appear, keep its exact text.
        return Decimal(repr(value))
    return value


def parse(data: bytes) -> Record:
    """summary.json's bytes as typed records."""
    raw = json.loads(data, parse_float=Decimal)
    # The label column of every table row is named after its table (``ltv_bucket``, ``vintage``...):
    # those values are labels, never numbers.
    tables = raw.get("tables", {}) if isinstance(raw, dict) else {}
    labels = frozenset(tables) | {"ltv_bucket", "dimension"}
    return _typed(raw, False, labels)
