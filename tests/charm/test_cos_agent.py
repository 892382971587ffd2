"""cos-agent: the unit databag is what the interface's schema describes.

The checks follow canonical/charm-relation-interfaces `interfaces/cos_agent/v0`
(schema.py's ProviderSchema): the unit databag holds `config`, a JSON object with
`metrics_alert_rules` (dict), `log_alert_rules` (dict), `dashboards` (list of
base64-encoded lzma-compressed JSON), `metrics_scrape_jobs` (list of dicts) and
`log_slots` (list of strings); the application databag stays empty.
"""

from __future__ import annotations

import json
from typing import Any

from cos_agent import decode_dashboard
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.conftest import PEER
from tests.charm.fake_workload import FakeWorkload

NESTED_FIELDS = {
    "metrics_alert_rules": dict,
    "log_alert_rules": dict,
    "dashboards": list,
    "metrics_scrape_jobs": list,
    "log_slots": list,
}


def provider_config(state: testing.State, relation: testing.Relation) -> dict[str, Any]:
    found: Any = state.get_relation(relation.id)
    assert dict(found.local_app_data) == {}
    unit = dict(found.local_unit_data)
    config: dict[str, Any] = json.loads(unit["config"])
    return config


def check_schema(config: dict[str, Any]) -> None:
    assert set(config) == set(NESTED_FIELDS)
    for name, kind in NESTED_FIELDS.items():
        assert isinstance(config[name], kind), name
    for group in config["metrics_alert_rules"]["groups"]:
        assert isinstance(group["name"], str)
        for rule in group["rules"]:
            assert {"alert", "expr", "labels", "annotations"} <= set(rule)
            assert all(isinstance(v, str) for v in rule["labels"].values())
            assert all(isinstance(v, str) for v in rule["annotations"].values())
    for job in config["metrics_scrape_jobs"]:
        assert isinstance(job, dict)
    assert all(isinstance(slot, str) for slot in config["log_slots"])


def test_the_leader_hands_over_scrape_job_rules_and_dashboard(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    cos = testing.Relation("cos-agent", remote_app_name="grafana-agent")
    state = testing.State(leader=True, relations={cos}, config={"report-port": 8088})

    out = ctx.run(ctx.on.relation_joined(cos, remote_unit=0), state)

    config = provider_config(out, cos)
    check_schema(config)
    assert config["metrics_scrape_jobs"] == [
        {
            "job_name": "phased-updater_serve",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["localhost:8088"]}],
        }
    ]
    assert config["log_slots"] == []
    [dashboard] = [decode_dashboard(item) for item in config["dashboards"]]
    assert dashboard["title"] == "Phased updater"
    alerts = {
        rule["alert"]: rule
        for group in config["metrics_alert_rules"]["groups"]
        for rule in group["rules"]
    }
    assert set(alerts) == {
        "PhasedUpdaterNoSuccessfulRun",
        "PhasedUpdaterRunsFailing",
        "PhasedUpdaterUpdateStopped",
        "PhasedUpdaterMailRefused",
        "PhasedUpdaterMailStuck",
    }
    rule = alerts["PhasedUpdaterRunsFailing"]
    model = out.model
    assert f'juju_model_uuid="{model.uuid}"' in rule["expr"]
    assert rule["labels"] == {
        "severity": "warning",
        "juju_model": model.name,
        "juju_model_uuid": model.uuid,
        "juju_application": "phased-updater",
        "juju_charm": "phased-updater",
    }


def test_a_standby_unit_sends_rules_but_no_scrape_job(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    cos = testing.Relation("cos-agent", remote_app_name="grafana-agent")

    out = ctx.run(ctx.on.relation_changed(cos, remote_unit=0), testing.State(relations={cos}))

    config = provider_config(out, cos)
    check_schema(config)
    assert config["metrics_scrape_jobs"] == []
    assert config["metrics_alert_rules"]["groups"]


def test_a_new_leader_adds_its_scrape_job_at_once(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    cos = testing.Relation("cos-agent", remote_app_name="grafana-agent")
    peers = testing.PeerRelation(PEER)
    standby = ctx.run(ctx.on.update_status(), testing.State(relations={cos, peers}))
    assert provider_config(standby, cos)["metrics_scrape_jobs"] == []

    out = ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations=standby.relations))

    assert provider_config(out, cos)["metrics_scrape_jobs"]
