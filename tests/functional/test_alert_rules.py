"""The alert rules the charm sends over cos-agent, checked by Debian's promtool.

The rules are rendered by the charm's own `cos_agent.alert_rules` for a fixed
topology, then `promtool check rules` validates them and `promtool test rules` runs
the fixtures in alert_rules/: series that fire and series that do not fire each alert.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cos_agent import Topology, alert_rules

PROMTOOL = shutil.which("promtool")
FIXTURES = Path(__file__).parent / "alert_rules"
TOPOLOGY = Topology(
    model="lab",
    model_uuid="0123abcd-0000-4000-8000-000000000000",
    application="phased-updater",
    charm_name="phased-updater",
)

pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="Debian's promtool is missing: scripts/ensure-debs prometheus"
)


def promtool(*args: str, cwd: Path) -> str:
    assert PROMTOOL is not None
    completed = subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def write_rules(directory: Path, *, annotations: bool) -> dict[str, Any]:
    rules = alert_rules(TOPOLOGY)
    if not annotations:
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    (directory / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    return rules


def alert_names() -> set[str]:
    rules = alert_rules(TOPOLOGY)
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"]}


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    write_rules(tmp_path, annotations=True)

    output = promtool("check", "rules", "rules.yml", cwd=tmp_path)

    assert f"SUCCESS: {len(alert_names())} rules found" in output


def test_the_rules_fire_and_stay_quiet_as_the_fixtures_say(tmp_path: Path) -> None:
    write_rules(tmp_path, annotations=False)
    shutil.copy(FIXTURES / "expressions-test.yml", tmp_path)

    assert "SUCCESS" in promtool("test", "rules", "expressions-test.yml", cwd=tmp_path)


def test_annotations_render(tmp_path: Path) -> None:
    write_rules(tmp_path, annotations=True)
    shutil.copy(FIXTURES / "annotations-test.yml", tmp_path)

    assert "SUCCESS" in promtool("test", "rules", "annotations-test.yml", cwd=tmp_path)


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fixtures = yaml.safe_load((FIXTURES / "expressions-test.yml").read_text())
    cases = [case for test in fixtures["tests"] for case in test["alert_rule_test"]]

    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}

    assert firing == alert_names()
    assert quiet == alert_names()


def test_the_rules_select_this_application_only() -> None:
    for group in alert_rules(TOPOLOGY)["groups"]:
        assert group["name"].startswith("lab_0123abcd_phased-updater_")
        for rule in group["rules"]:
            assert "%%" not in rule["expr"]
            assert 'juju_application="phased-updater"' in rule["expr"]
            assert rule["labels"]["juju_model_uuid"] == TOPOLOGY.model_uuid


def test_the_dashboards_queries_parse(tmp_path: Path) -> None:
    """Every panel's PromQL, as recording rules, through `promtool check rules`."""
    from cos_agent import DASHBOARDS

    rules: list[dict[str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = yaml.safe_load(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable in ("$juju_model_uuid", "$juju_model", "$juju_application"):
                    expr = expr.replace(variable, ".*")
                rules.append({"record": f"dashboard:panel_{len(rules)}", "expr": expr})
    (tmp_path / "dashboard.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]})
    )

    assert f"SUCCESS: {len(rules)} rules found" in promtool(
        "check", "rules", "dashboard.yml", cwd=tmp_path
    )
