"""Fixtures shared by the report tests: a real Store in memory, filled realistically."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phased_updater.store import RunRecord, Store
from tests.unit import report_db


@pytest.fixture
def store() -> Iterator[Store]:
    # SQLite in memory: the real store, no file.
    store = Store.open(Path(":memory:"))
    yield store
    store.close()


@pytest.fixture
def last_run(store: Store) -> RunRecord:
    """The latest run of `report_db.realistic`: every state, hostile strings included."""
    return report_db.realistic(store)[1]
