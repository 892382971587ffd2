"""Fixtures for the charm's ops.testing tests: a Context whose unit is a FakeWorkload."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
from ops import testing
from peer_data import Halt, Override, PeerRecords

import charm
from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

PEER = "phased-updater-peers"


@pytest.fixture
def workload(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> FakeWorkload:
    fake = FakeWorkload(tmp_path_factory.mktemp("unit"))
    monkeypatch.setattr(charm, "SystemWorkload", lambda layout: fake)
    return fake


@pytest.fixture
def ctx(workload: FakeWorkload) -> testing.Context[PhasedUpdaterCharm]:
    return testing.Context(PhasedUpdaterCharm)


def peer_relation(
    overrides: Iterable[Override] = (), halts: Iterable[Halt] = ()
) -> testing.PeerRelation:
    databag: dict[str, str] = {}
    PeerRecords(tuple(overrides), tuple(halts)).save(databag)
    return testing.PeerRelation(PEER, local_app_data=databag, peers_data={1: {}})


def peer_records(state: testing.State) -> PeerRecords:
    relation: Any = next(r for r in state.relations if r.endpoint == PEER)
    return PeerRecords.load(relation.local_app_data)


def unit_data(state: testing.State, relation: testing.Relation) -> dict[str, str]:
    """What this unit wrote to `relation`; Any because ops.testing's alias confuses mypy."""
    found: Any = state.get_relation(relation.id)
    return dict(found.local_unit_data)


def report(*packages: tuple[str, str, str, str], dry_run: bool = False) -> str:
    """The engine's report JSON, from (series, source, version, state) tuples."""
    return json.dumps(
        {
            "generated": "2025-01-01T12:00:00Z",
            "dry_run": dry_run,
            "packages": [
                {"series": series, "source": source, "version": version, "state": state}
                for series, source, version, state in packages
            ],
        }
    )
