"""Overrides and halts live in the peer application databag and reach every unit's files."""

from __future__ import annotations

import json
from pathlib import Path

import ops
from ops import testing
from peer_data import Halt, Override, PeerRecords

from charm import PhasedUpdaterCharm
from tests.charm.conftest import PEER, peer_relation
from tests.charm.fake_workload import FakeWorkload

PROBLEM = "https://errors.ubuntu.com/problem/" + "a" * 40
OVERRIDE = Override("openssl", "3.0.13-0ubuntu3.5", PROBLEM, "alice", "old crash", "2025-01-01")
HALT = Halt("noble", "glibc", "2.39-0ubuntu8.4", "breaks boot", "sru-team", "2025-01-01T10:00:00Z")


def test_records_round_trip_through_the_databag() -> None:
    records = PeerRecords((OVERRIDE,), (HALT,))
    databag: dict[str, str] = {}

    records.save(databag)

    assert PeerRecords.load(databag) == records
    assert json.loads(databag["overrides"]) == [OVERRIDE.to_json()]


def test_a_non_leader_renders_the_leaders_records(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    peers = peer_relation([OVERRIDE], [HALT])

    ctx.run(
        ctx.on.relation_changed(peers, remote_unit=1),
        testing.State(leader=False, relations={peers}),
    )

    overrides = json.loads(workload.files[Path("/etc/phased-updater/overrides.json")].content)
    assert overrides["overrides"] == [OVERRIDE.to_json()]
    halts = json.loads(workload.files[Path("/etc/phased-updater/halts.json")].content)
    assert halts == {
        "halts": [
            {
                "series": "noble",
                "source": "glibc",
                "version": "2.39-0ubuntu8.4",
                "reason": "breaks boot",
                "by": "sru-team",
                "at": "2025-01-01T10:00:00Z",
            }
        ]
    }


def test_records_survive_a_change_of_leader(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    peers = peer_relation([OVERRIDE], [HALT])
    state = testing.State(leader=True, relations={peers})

    out = ctx.run(ctx.on.leader_elected(), state)
    result = ctx.run(ctx.on.action("list-overrides"), out)

    assert ctx.action_results == {
        "count": "1",
        "overrides": f"openssl, 3.0.13-0ubuntu3.5, {PROBLEM}",
        "added": f"openssl, 3.0.13-0ubuntu3.5, {PROBLEM}"
        " (added by alice with add-override on 2025-01-01: old crash)",
    }
    assert isinstance(result.unit_status, ops.ActiveStatus)


def test_overrides_recorded_before_attribution_still_load() -> None:
    """An earlier charm revision kept source, version and problem only."""
    databag = {"overrides": json.dumps([{"source": "a1", "version": "1", "problem": PROBLEM}])}

    [old] = PeerRecords.load(databag).overrides

    assert old == Override("a1", "1", PROBLEM, by="", reason="", at="")
    assert old.described() == f"a1, 1, {PROBLEM} (added by unknown with add-override)"


def test_malformed_peer_data_blocks(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    peers = testing.PeerRelation(PEER, local_app_data={"overrides": "not json"}, peers_data={1: {}})

    out = ctx.run(
        ctx.on.relation_changed(peers, remote_unit=1),
        testing.State(leader=False, relations={peers}),
    )

    assert isinstance(out.unit_status, ops.BlockedStatus)
    assert "peer data 'overrides' is not JSON" in out.unit_status.message


def test_an_upgrade_removes_the_overrides_file_of_earlier_revisions(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    old = Path("/etc/phased-updater/overrides.csv")
    workload.write_file(old, "openssl, 3.0.13-0ubuntu3.5, increased-rate\n", 0o640, None)
    peers = peer_relation([OVERRIDE])

    ctx.run(ctx.on.upgrade_charm(), testing.State(leader=True, relations={peers}))

    assert old not in workload.files and not workload.path(old).exists()
    written = json.loads(workload.files[Path("/etc/phased-updater/overrides.json")].content)
    assert written["overrides"] == [OVERRIDE.to_json()]
