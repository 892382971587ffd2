"""metadata.yaml: what the charm needs from Juju, and the endpoints its peers expect."""

from __future__ import annotations

from pathlib import Path

import yaml
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

METADATA = yaml.safe_load((Path(__file__).parents[2] / "metadata.yaml").read_text())


def test_assumes_a_juju_with_user_secrets() -> None:
    # Issue 17, 7: secret-typed config and user secrets need Juju 3.3 at least.
    assert "juju >= 3.4" in METADATA["assumes"]


def test_the_endpoints_and_their_interfaces() -> None:
    interfaces = {
        name: spec["interface"]
        for kind in ("provides", "requires", "peers")
        for name, spec in METADATA[kind].items()
    }

    assert interfaces == {
        "website": "http",
        "apache-vhost-config": "apache-vhost-config",
        "cos-agent": "cos_agent",
        "smtp": "smtp",
        "phased-updater-peers": "phased_updater_peers",
    }


def test_ops_testing_reads_the_metadata(workload: FakeWorkload) -> None:
    ctx = testing.Context(PhasedUpdaterCharm)

    out = ctx.run(ctx.on.install(), testing.State(leader=True))

    assert out.unit_status.name == "active"
