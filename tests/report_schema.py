"""docs/report-schema.json, as the tests hold every phased-updates.json to it.

The published schema lets a reader meet fields it does not know (fields are only ever
added). The tests hold the engine to more: `strict` forbids, in every object the
schema describes, any property it does not describe, so a field added to the report
but not to the schema (and so not to its document) fails a test.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "report-schema.json"
REPORT_NAME = "phased-updates.json"


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        closed = {key: _closed(value) for key, value in node.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def _validator() -> Any:  # a jsonschema Validator
    strict = _closed(copy.deepcopy(schema()))
    validator_class = jsonschema.validators.validator_for(strict)
    validator_class.check_schema(strict)
    return validator_class(strict)


def problems(document: Any) -> list[str]:
    """Every way `document` breaks the strict schema, one line each (none: it conforms)."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors]


def check(document: Any, where: str = "the report") -> None:
    found = problems(document)
    assert not found, f"{where} does not match docs/report-schema.json:\n" + "\n".join(found[:20])


def check_reports_under(root: Path, seen: set[Path] | None = None) -> int:
    """Check every report the engine wrote under `root` (skipping those in `seen`); how many.

    The engine's reports always carry `schema_version`: a file without one is a test's
    own stand-in (`{}` swapped in to see the server follow it), not a report.
    """
    count = 0
    for path in sorted(root.rglob(REPORT_NAME)):
        if seen is not None:
            if path in seen:
                continue
            seen.add(path)
        if not path.is_file() or path.is_symlink():
            continue  # a test's FIFO or link in the report's place: opening one may block
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # removed meanwhile, or a test's own broken stand-in
        if isinstance(document, dict) and "schema_version" in document:
            check(document, str(path))
            count += 1
    return count
