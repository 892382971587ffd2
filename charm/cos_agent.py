"""The `cos-agent` relation (interface `cos_agent`): what COS gets from this charm.

Written from the interface's documented schema (canonical/charm-relation-interfaces,
`interfaces/cos_agent/v0`): the provider writes one key, `config`, in its **unit**
databag, a JSON object with `metrics_alert_rules` and `log_alert_rules` (rule files,
`{"groups": [...]}`), `dashboards` (base64 of lzma-compressed dashboard JSON),
`metrics_scrape_jobs` and `log_slots`. The requirer (grafana-agent or
opentelemetry-collector, a subordinate on the same machine) writes nothing.

- Scrape job: `serve`'s `/metrics` on localhost, from the leader only: a standby unit
  serves no current report (the alert rules also take the freshest unit).
- Alert rules: `alert_rules/*.rules`, with `%%juju_topology%%` replaced by this
  application's topology selectors and the topology added to every rule's labels,
  as COS's own libraries do, so that the rules see this application's series only.
- Dashboards: `dashboards/*.json`.
- Logs: no slot. Log slots name snap content interfaces; this workload is a deb-based
  service, whose journal the machine agents already read (grafana-agent's machine
  charm forwards the whole journal and /var/log; see the README).
"""

from __future__ import annotations

import base64
import json
import lzma
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RELATION = "cos-agent"
CONFIG_KEY = "config"
TOPOLOGY_PLACEHOLDER = "%%juju_topology%%"
HERE = Path(__file__).parent
ALERT_RULES = HERE / "alert_rules"
DASHBOARDS = HERE / "dashboards"


@dataclass(frozen=True)
class Topology:
    """Juju's topology labels of this application, as COS attaches them to its metrics."""

    model: str
    model_uuid: str
    application: str
    charm_name: str

    def labels(self) -> dict[str, str]:
        return {
            "juju_model": self.model,
            "juju_model_uuid": self.model_uuid,
            "juju_application": self.application,
            "juju_charm": self.charm_name,
        }

    def selectors(self) -> str:
        """The PromQL label matchers that pick this application's series."""
        return ",".join(
            f'{name}="{self.labels()[name]}"'
            for name in ("juju_model", "juju_model_uuid", "juju_application")
        )

    def identifier(self) -> str:
        return f"{self.model}_{self.model_uuid[:8]}_{self.application}"


def alert_rules(topology: Topology, directory: Path = ALERT_RULES) -> dict[str, Any]:
    """Every group of every `*.rules` file, bound to `topology`."""
    groups = []
    for path in sorted(directory.glob("*.rules")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            rules = []
            for rule in group["rules"]:
                bound = dict(rule)
                bound["expr"] = rule["expr"].replace(TOPOLOGY_PLACEHOLDER, topology.selectors())
                bound["labels"] = {**rule.get("labels", {}), **topology.labels()}
                rules.append(bound)
            groups.append({"name": f"{topology.identifier()}_{group['name']}", "rules": rules})
    return {"groups": groups}


def encode_dashboard(text: str) -> str:
    return base64.b64encode(lzma.compress(text.encode("utf-8"))).decode("ascii")


def decode_dashboard(encoded: str) -> Any:
    return json.loads(lzma.decompress(base64.b64decode(encoded)).decode("utf-8"))


def dashboards(directory: Path = DASHBOARDS) -> list[str]:
    return [
        encode_dashboard(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    ]


def scrape_jobs(application: str, report_port: int) -> list[dict[str, Any]]:
    return [
        {
            "job_name": f"{application}_serve",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [f"localhost:{report_port}"]}],
        }
    ]


def provider_config(topology: Topology, report_port: int, *, is_leader: bool) -> str:
    """The `config` value of this unit's databag."""
    config = {
        "metrics_alert_rules": alert_rules(topology),
        "log_alert_rules": {},
        "dashboards": dashboards(),
        "metrics_scrape_jobs": scrape_jobs(topology.application, report_port) if is_leader else [],
        "log_slots": [],
    }
    return json.dumps(config, sort_keys=True)
