"""Replays every command of docs/charm-walkthrough.md against the charm under ops.testing.

Each `juju` command in the walkthrough's shell blocks maps to the events Juju would
send this charm; a command the replay does not know fails the test, so the document
cannot show a command that was never exercised.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ops
import pytest
import yaml
from ops import testing
from peer_data import Override

from charm import PhasedUpdaterCharm
from tests.charm.conftest import PEER, peer_records, unit_data
from tests.charm.fake_workload import FakeWorkload

ROOT = Path(__file__).parents[2]
WALKTHROUGH = ROOT / "docs" / "charm-walkthrough.md"
OPTION_TYPES = {
    name: option["type"]
    for name, option in yaml.safe_load((ROOT / "config.yaml").read_text())["options"].items()
}
APP = "phased-updater"
# Applications integrated by name alone, and this charm's endpoint they use.
SUBORDINATE_ENDPOINTS = {"grafana-agent": "cos-agent", "opentelemetry-collector": "cos-agent"}
# smtp-integrator options that it passes on as relation data under the same name.
SMTP_KEYS = ("host", "port", "user", "auth_type", "transport_security")


def walkthrough_file(name: str) -> str:
    """A file the walkthrough shows: a fenced block whose first line is `# NAME`."""
    markdown = WALKTHROUGH.read_text(encoding="utf-8")
    blocks: list[tuple[str, str]] = re.findall(
        r"```\w*\n# (\S+)\n(.*?)```", markdown, flags=re.DOTALL
    )
    return next(text for file, text in blocks if file == name)


def shell_commands(markdown: str) -> list[str]:
    blocks = re.findall(r"```shell\n(.*?)```", markdown, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def key_values(words: list[str]) -> dict[str, str]:
    pairs = (word.split("=", 1) for word in words)
    return {key: value for key, value in pairs}


def config_values(words: list[str]) -> dict[str, str]:
    """`juju config` pairs; `key=@FILE` is the content of FILE, as Juju reads it."""
    return {
        key: walkthrough_file(value[1:]) if value.startswith("@") else value
        for key, value in key_values(words).items()
    }


def typed_options(options: dict[str, str]) -> dict[str, str | int | bool | float]:
    """As Juju converts `juju config` strings by the option's type in config.yaml."""
    converters: dict[str, Callable[[str], str | int | bool | float]] = {
        "int": int,
        "float": float,
        "boolean": lambda text: text == "true",
    }
    return {key: converters.get(OPTION_TYPES[key], str)(value) for key, value in options.items()}


@dataclasses.dataclass
class Replay:
    """The model as the walkthrough builds it, and the charm's view of it."""

    ctx: testing.Context[PhasedUpdaterCharm]
    state: testing.State
    variables: dict[str, str] = dataclasses.field(default_factory=dict)
    other_apps: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    secrets: dict[str, testing.Secret] = dataclasses.field(default_factory=dict)
    granted: set[str] = dataclasses.field(default_factory=set)
    results: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def run(self, event: Any, **changes: Any) -> None:
        self.state = self.ctx.run(event, dataclasses.replace(self.state, **changes))
        assert not isinstance(self.state.unit_status, ops.BlockedStatus), self.state.unit_status

    def relation(self, endpoint: str) -> testing.Relation:
        found = next(r for r in self.state.relations if r.endpoint == endpoint)
        assert isinstance(found, testing.Relation)
        return found

    # -- one method per juju sub-command ----------------------------------------------

    def deploy(self, args: list[str]) -> None:
        # A local charm file is deployed under its metadata's name, as Juju does.
        app = APP if args[0].startswith("./phased-updater_") else args[0]
        options = key_values(self._options(args[1:], "--config"))
        if app != APP:
            self.other_apps[app] = options
            return
        peers = testing.PeerRelation(PEER)
        self.state = dataclasses.replace(
            self.state,
            config=typed_options(options),
            relations=frozenset({peers}),
            leader=True,
        )
        for event in (self.ctx.on.install(), self.ctx.on.leader_elected()):
            self.run(event)
        self.run(self.ctx.on.config_changed())
        self.run(self.ctx.on.start())

    def integrate(self, args: list[str]) -> None:
        ends = [tuple(arg.split(":")) if ":" in arg else (arg, "") for arg in args]
        (local, endpoint), (remote, remote_endpoint) = sorted(ends, key=lambda e: e[0] != APP)
        assert local == APP, args
        if not endpoint:
            # `juju integrate phased-updater grafana-agent`: the one endpoint they share.
            endpoint = SUBORDINATE_ENDPOINTS[remote]
        assert remote_endpoint or remote in SUBORDINATE_ENDPOINTS, args
        assert remote in self.other_apps, f"{remote} is integrated before it is deployed"
        remote_data: dict[str, str] = {}
        if endpoint == "smtp":
            config = self.other_apps[remote]
            remote_data = {key: config[key] for key in SMTP_KEYS if key in config}
        relation = testing.Relation(endpoint, remote_app_name=remote, remote_app_data=remote_data)
        relations = {*self.state.relations, relation}
        self.run(self.ctx.on.relation_joined(relation, remote_unit=0), relations=relations)
        current = self.state.get_relation(relation.id)
        self.run(self.ctx.on.relation_changed(current, remote_unit=0))

    def add_secret(self, args: list[str]) -> str:
        name, content = args[0], key_values(args[1:])
        # `key#file=PATH`: the file's content under `key`.
        values = {key.split("#")[0]: f"[1]\n# from {path}\n" for key, path in content.items()}
        secret = testing.Secret(tracked_content=values, label=name)
        self.secrets[name] = secret
        return secret.id

    def grant_secret(self, args: list[str]) -> None:
        assert args[1] == APP, args
        self.granted.add(args[0])

    def config(self, args: list[str]) -> None:
        assert args[0] == APP, args
        options: dict[str, str | int | bool | float] = {**self.state.config}
        options.update(typed_options(config_values(args[1:])))
        # Only granted secrets are visible to the unit.
        visible = frozenset(self.secrets[name] for name in self.granted)
        self.run(self.ctx.on.config_changed(), config=options, secrets=visible)

    def run_action(self, args: list[str]) -> None:
        unit, action, params = args[0], args[1], key_values(args[2:])
        assert unit == f"{APP}/leader", "actions in the walkthrough run on the leader"
        typed: dict[str, str | bool] = {
            key: (value == "true") if key == "dry-run" else value for key, value in params.items()
        }
        self.run(self.ctx.on.action(action, params=typed))
        self.results.append(dict(self.ctx.action_results or {}))

    def status(self, args: list[str]) -> None:
        self.run(self.ctx.on.update_status())
        assert isinstance(self.state.unit_status, ops.ActiveStatus)

    @staticmethod
    def _options(words: list[str], flag: str) -> list[str]:
        return [value for option, value in itertools.pairwise(words) if option == flag]

    def execute(self, line: str) -> None:
        assignment = re.fullmatch(r"(\w+)=\$\((.*)\)", line)
        if assignment:
            name, line = assignment.groups()
        words = [self._expand(word) for word in shlex.split(line)]
        assert words[0] == "juju", line
        command, args = words[1], words[2:]
        handlers = {
            "deploy": self.deploy,
            "integrate": self.integrate,
            "add-secret": self.add_secret,
            "grant-secret": self.grant_secret,
            "config": self.config,
            "run": self.run_action,
            "status": self.status,
        }
        assert command in handlers, f"the walkthrough uses `juju {command}`, not replayed"
        output = handlers[command](args)
        if assignment:
            assert isinstance(output, str), line
            self.variables[name] = output

    def _expand(self, word: str) -> str:
        return re.sub(r"\$(\w+)", lambda match: self.variables[match.group(1)], word)


@pytest.fixture
def replay(ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload) -> Replay:
    replay = Replay(ctx, testing.State())
    for line in shell_commands(WALKTHROUGH.read_text(encoding="utf-8")):
        replay.execute(line)
    return replay


def test_walkthrough_commands_all_work(replay: Replay, workload: FakeWorkload) -> None:
    config = tomllib.loads(workload.files[Path("/etc/phased-updater/config.toml")].content)

    assert (config["step"], config["interval"], config["series"]) == (20, "12h", ["noble", "jammy"])
    assert config["dry_run"] is False  # the Launchpad secret was granted and configured
    assert (config["smtp_host"], config["smtp_port"]) == ("smtp.internal", 25)
    assert config["mail_from"] == "ubuntu-sru-bot@example.com"
    assert config["interval"] == "12h"
    assert config["overrides_git"] == (
        "https://git.launchpad.net/~ubuntu-sru/+git/phased-update-overrides"
    )
    assert (config["overrides_git_branch"], config["overrides_git_file"]) == (
        "main",
        "phased-updates-overrides.txt",
    )
    assert config["sources"] == {"openssl": "medium"}
    assert config["groups"] == {
        "boot": {"sources": ["shim-signed", "grub2-signed"], "class": "slow"}
    }
    assert (config["freeze_windows"], config["reminder_days"]) == (["Fri 00:00-Mon 12:00"], 7)
    assert "OnUnitInactiveSec=3600s\n" in workload.text(
        "/etc/systemd/system/phased-updater-run.timer"
    )
    assert unit_data(replay.state, replay.relation("website"))["port"] == "8080"
    assert "vhosts" in unit_data(replay.state, replay.relation("apache-vhost-config"))
    cos = json.loads(unit_data(replay.state, replay.relation("cos-agent"))["config"])
    assert cos["metrics_scrape_jobs"][0]["static_configs"] == [{"targets": ["localhost:8080"]}]


def test_the_readme_carries_the_walkthrough() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Deploying the charm with Juju\n", 1)[1].split("\n## ", 1)[0]
    walkthrough = WALKTHROUGH.read_text(encoding="utf-8").split("\n", 1)[1]

    assert section.strip() == walkthrough.strip()


def test_walkthrough_actions_leave_the_expected_records(replay: Replay) -> None:
    add, listed, halt, resume, remove, run_now, last_run, halts = replay.results[:8]

    problem = "https://errors.ubuntu.com/problem/5d6a4a9fd7c03ee8ad4e52d6a4e5fd0ccd1c40a1"
    assert add == {"added": f"openssl, 3.0.13-0ubuntu3.5, {problem}", "count": "1"}
    assert listed["overrides"] == add["added"]
    who = r"\(added by sru-team with add-override on \S+: the crash is in libfoo, not openssl\)"
    attributed = rf"{re.escape(add['added'])} {who}"
    assert re.fullmatch(attributed, listed["added"])
    assert halt["halted"] == "noble/glibc/2.39-0ubuntu8.4"
    assert resume["resumed"] == "noble/glibc/2.39-0ubuntu8.4"
    assert remove["count"] == "0"
    assert run_now["dry-run"] == "true"
    assert last_run["result"] == "no run since the machine booted"
    assert halts == {"count": "0", "halts": ""}
    assert peer_records(replay.state).overrides == ()
    assert (
        Override("openssl", "3.0.13-0ubuntu3.5", problem)
        not in peer_records(replay.state).overrides
    )


def test_every_command_is_replayed() -> None:
    commands = shell_commands(WALKTHROUGH.read_text(encoding="utf-8"))

    assert len(commands) >= 22
    assert all("juju " in command for command in commands)
