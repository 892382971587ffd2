"""The conftest's check that every report a functional test writes matches the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import report_schema


def test_a_report_that_breaks_the_schema_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "report" / report_schema.REPORT_NAME
    bad.parent.mkdir()
    bad.write_text(json.dumps({"schema_version": 7, "run": "57"}))
    # A test's own stand-in (no schema_version) is not the engine's: left alone.
    (tmp_path / report_schema.REPORT_NAME).write_text("{}\n")

    with pytest.raises(AssertionError, match=r"report-schema\.json") as caught:
        report_schema.check_reports_under(tmp_path)

    assert "(top): 'generated' is a required property" in str(caught.value)
    assert "run: '57' is not of type 'integer'" in str(caught.value)
    bad.unlink()  # so that this test's own teardown check passes
    assert report_schema.check_reports_under(tmp_path) == 0
