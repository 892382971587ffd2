#!/usr/bin/env python3
"""Machine charm for phased-updater: every event reconciles the unit; actions edit peer data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import ops
from action_params import (
    HaltParams,
    OverrideParams,
    ResumeParams,
    RunNowParams,
    ShowLastRunParams,
)
from charm_state import PEER, SMTP, VHOST_CONFIG, CharmState, ConfigurationError
from cos_agent import CONFIG_KEY, provider_config
from cos_agent import RELATION as COS_AGENT
from last_run import list_halts_results, show_last_run
from layout import RUN_SERVICE, RUN_TIMER, SERVE_SERVICE, SYSTEM_USER, Layout
from peer_data import LEADER_KEY, Halt, PeerRecords
from status_summary import leader_message, staleness_note, summarize_report
from vhost import backend_address, vhosts_value, website_data
from workload import DEBIAN_PACKAGES, SystemWorkload, Workload, engine_release
from workload_files import (
    CYCLE_BUSY_EXIT,
    cycle_command,
    halt_command,
    render_config,
    render_halts,
    render_overrides,
    render_run_service,
    render_run_timer,
    render_serve_service,
    render_wrapper,
    resume_command,
)

import phased_updater
from phased_updater.text import redact

# The engine's pure modules reach the charm through its build (charmcraft.yaml stages
# src/phased_updater into the charm's lib/, which dispatch puts on the path); the
# charm copies that same package onto the unit, which runs it on Ubuntu's python3-*.
ENGINE_SOURCE = Path(phased_updater.__file__).resolve().parent.parent

logger = logging.getLogger(__name__)

WEBSITE = "website"
# Lines of the engine's output returned by run-now, halt and resume.
OUTPUT_TAIL = 20


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-OUTPUT_TAIL:])


class PhasedUpdaterCharm(ops.CharmBase):
    def __init__(self, framework: ops.Framework) -> None:
        super().__init__(framework)
        self.layout = Layout()
        self.workload: Workload = SystemWorkload(self.layout)
        self._state: CharmState | None = None
        self._problem: ConfigurationError | None = None

        on = self.on
        framework.observe(on.install, self._on_install_or_upgrade)
        framework.observe(on.upgrade_charm, self._on_install_or_upgrade)
        for event in (
            on.config_changed,
            on.start,
            on.update_status,
            on.leader_elected,
            on.secret_changed,
            on[PEER].relation_created,
            on[PEER].relation_changed,
            on[WEBSITE].relation_joined,
            on[WEBSITE].relation_changed,
            on[VHOST_CONFIG].relation_joined,
            on[VHOST_CONFIG].relation_changed,
            on[SMTP].relation_changed,
            on[SMTP].relation_broken,
            on[COS_AGENT].relation_joined,
            on[COS_AGENT].relation_changed,
        ):
            framework.observe(event, self._on_change)
        framework.observe(on.collect_unit_status, self._on_collect_unit_status)

        framework.observe(on.add_override_action, self._on_add_override)
        framework.observe(on.remove_override_action, self._on_remove_override)
        framework.observe(on.list_overrides_action, self._on_list_overrides)
        framework.observe(on.run_now_action, self._on_run_now)
        framework.observe(on.halt_action, self._on_halt)
        framework.observe(on.resume_action, self._on_resume)
        framework.observe(on.show_last_run_action, self._on_show_last_run)
        framework.observe(on.list_halts_action, self._on_list_halts)

    # -- events -------------------------------------------------------------------

    def _on_install_or_upgrade(self, _: ops.EventBase) -> None:
        self.unit.status = ops.MaintenanceStatus("installing phased-updater")
        self.reconcile()

    def _on_change(self, _: ops.EventBase) -> None:
        self.reconcile()

    # -- state ----------------------------------------------------------------------

    def _current_state(self) -> CharmState | None:
        if self._state is None and self._problem is None:
            try:
                self._state = CharmState.from_charm(self)
            except ConfigurationError as error:
                self._problem = error
        return self._state

    # -- reconcile ------------------------------------------------------------------

    def reconcile(self) -> None:
        """Make the unit match config, secrets, relations, peer data and leadership."""
        self._state, self._problem = None, None
        state = self._current_state()
        if state is None:
            logger.warning("not reconciling: %s", self._problem)
            # The one change made despite a bad value: a unit that lost leadership
            # must stop the timer, or two units would phase the same updates.
            if not self.unit.is_leader():
                self.workload.disable_now(RUN_TIMER)
            return
        engine_changed = self._install()
        units_changed = self._write_files(state)
        self._reconcile_services(state, engine_changed=engine_changed, units=units_changed)
        self._publish(state)

    def _install(self) -> bool:
        """Packages, user, directories and the engine release; True if the engine changed."""
        layout, workload = self.layout, self.workload
        workload.ensure_packages(DEBIAN_PACKAGES)
        workload.ensure_user(SYSTEM_USER, layout.var)
        workload.ensure_dir(layout.opt, 0o755, None)
        workload.ensure_dir(layout.etc, 0o750, SYSTEM_USER)
        workload.ensure_dir(layout.var, 0o750, SYSTEM_USER)
        workload.ensure_dir(layout.report_dir, 0o755, SYSTEM_USER)
        wrapper_changed = workload.write_file(layout.wrapper, render_wrapper(layout), 0o755, None)
        release_changed = workload.install_engine(ENGINE_SOURCE, engine_release(ENGINE_SOURCE))
        return wrapper_changed or release_changed

    def _write_files(self, state: CharmState) -> set[str]:
        """The engine's inputs, and the systemd units; returns the units that changed."""
        layout, workload = self.layout, self.workload
        owner = SYSTEM_USER
        workload.write_file(layout.config, render_config(state, layout), 0o640, owner)
        workload.write_file(layout.overrides, render_overrides(state.peers.overrides), 0o640, owner)
        workload.remove_file(layout.old_overrides)
        workload.write_file(layout.halts, render_halts(state.peers.halts), 0o640, owner)
        self._write_secret(layout.credentials, state.launchpad_credentials)
        self._write_secret(layout.smtp_password, state.smtp.password if state.smtp else None)
        period = state.config.run_every_seconds
        ipv6 = workload.has_ipv6()
        units = {
            RUN_SERVICE: render_run_service(layout, state.proxy_env, period),
            RUN_TIMER: render_run_timer(period),
            SERVE_SERVICE: render_serve_service(
                layout, state.config.report_port, period, ipv6=ipv6
            ),
        }
        return {
            name
            for name, text in units.items()
            if workload.write_file(layout.unit_file(name), text, 0o644, None)
        }

    def _write_secret(self, path: Path, content: str | None) -> None:
        if content is None:
            self.workload.remove_file(path)
        else:
            self.workload.write_file(path, content, 0o600, SYSTEM_USER)

    def _reconcile_services(
        self, state: CharmState, *, engine_changed: bool, units: set[str]
    ) -> None:
        workload = self.workload
        if units:
            workload.daemon_reload()
        workload.enable_now(SERVE_SERVICE)
        if engine_changed or SERVE_SERVICE in units:
            workload.restart(SERVE_SERVICE)
        if state.is_leader:
            workload.enable_now(RUN_TIMER)
            if RUN_TIMER in units:
                # Re-arms the timer with the new period.
                workload.restart(RUN_TIMER)
        else:
            workload.disable_now(RUN_TIMER)

    def _publish(self, state: CharmState) -> None:
        """Every unit's port on `website`; the vhost, pointing at the leader, from the leader.

        See vhost.py for why every unit advertises a port while only the leader's
        address goes into the vhost. The leader also names itself in the peer
        application data, so that a change of leader reaches every other unit at
        once (peer relation-changed) instead of at its next update-status.
        """
        port = state.config.report_port
        for relation in self.model.relations[WEBSITE]:
            relation.data[self.unit].update(website_data(self._address(relation), port))
        for relation in self.model.relations[VHOST_CONFIG]:
            databag = relation.data[self.unit]
            if state.is_leader:
                backend = backend_address(self._address(relation), port)
                databag["vhosts"] = vhosts_value(self.app.name, backend)
            else:
                databag.pop("vhosts", None)
        if self.model.relations[COS_AGENT]:
            config = provider_config(state.topology, port, is_leader=state.is_leader)
            for relation in self.model.relations[COS_AGENT]:
                relation.data[self.unit][CONFIG_KEY] = config
        peer = self.model.get_relation(PEER)
        if state.is_leader and peer is not None and state.leader_unit != self.unit.name:
            peer.data[self.app][LEADER_KEY] = self.unit.name

    def _address(self, relation: ops.Relation) -> str:
        binding = self.model.get_binding(relation)
        address = binding.network.ingress_address if binding else None
        return str(address) if address else ""

    # -- status ---------------------------------------------------------------------

    def _on_collect_unit_status(self, event: ops.CollectStatusEvent) -> None:
        state = self._current_state()
        if state is None:
            event.add_status(ops.BlockedStatus(str(self._problem)))
            return
        notes = []
        if state.anonymous:
            notes.append("anonymous dry runs (no launchpad-credentials)")
        elif state.config.dry_run:
            notes.append("dry-run set")
        if not state.smtp_related:
            notes.append("email off (no smtp integration)")
        elif state.smtp is None:
            notes.append("email off (waiting for smtp data)")
        elif not state.mail_from:
            # The engine keeps stop emails queued until it has a sender.
            notes.append("email held: set mail-from (the relay sends no sender)")
        if state.is_leader:
            report_text = self.workload.read_text(self.layout.report_json)
            now = datetime.now(UTC)
            stale = staleness_note(
                self.workload.read_text(self.layout.run_status),
                now,
                state.config.run_every_seconds,
            )
            message = leader_message(
                summarize_report(report_text) if report_text else None,
                self.workload.timer_next_elapse(RUN_TIMER),
                self.workload.last_run(RUN_SERVICE),
                now,
                app=self.app.name,
                stale=stale,
            )
        else:
            leader = f" ({state.leader_unit})" if state.leader_unit else ""
            message = f"standby: the leader{leader} runs the cycles"
        event.add_status(ops.ActiveStatus("; ".join([message, *notes])))

    # -- actions --------------------------------------------------------------------

    def _require_leader(self, event: ops.ActionEvent, action: str) -> bool:
        if self.unit.is_leader():
            return True
        event.fail(
            f"{action} changes shared state, so it runs on the leader only: "
            f"use juju run {self.app.name}/leader {action} ..."
        )
        return False

    def _require_state(self, event: ops.ActionEvent) -> CharmState | None:
        state = self._current_state()
        if state is None:
            event.fail(f"the charm is blocked until this is fixed: {self._problem}")
        return state

    def _peer_databag(self, event: ops.ActionEvent) -> ops.RelationDataContent | None:
        relation = self.model.get_relation(PEER)
        if relation is None:
            event.fail("the peer relation does not exist yet; retry once the unit has settled")
            return None
        return relation.data[self.app]

    def _update_peers(
        self, event: ops.ActionEvent, change: Callable[[PeerRecords], PeerRecords]
    ) -> PeerRecords | None:
        """Applies `change` to the peer records, saves them and re-renders the unit's files."""
        databag = self._peer_databag(event)
        state = self._require_state(event)
        if databag is None or state is None:
            return None
        records = change(state.peers)
        records.save(databag)
        self.reconcile()
        return records

    def _on_add_override(self, event: ops.ActionEvent) -> None:
        params = event.load_params(OverrideParams, errors="fail")
        if not self._require_leader(event, "add-override"):
            return
        state = self._require_state(event)
        if state is None:
            return
        override = params.override(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        existing = state.peers.find_override(override)
        if existing is not None:
            # The first record stays: who added it and why is not rewritten.
            event.fail(f"already overridden: {existing.described()}")
            return
        records = self._update_peers(event, lambda peers: peers.with_override(override))
        if records is not None:
            logger.info("override added: %s", override.described())
            event.set_results({"added": override.line(), "count": str(len(records.overrides))})

    def _on_remove_override(self, event: ops.ActionEvent) -> None:
        params = event.load_params(OverrideParams, errors="fail")
        if not self._require_leader(event, "remove-override"):
            return
        state = self._require_state(event)
        if state is None:
            return
        override = params.override("")
        existing = state.peers.find_override(override)
        if existing is None:
            event.fail(f"no override {override.line()}; see the list-overrides action")
            return
        records = self._update_peers(event, lambda peers: peers.without_override(override))
        if records is not None:
            # Juju keeps the action's parameters and this log: who removed it and why.
            logger.info(
                "override removed by %s (%s): %s", params.by, params.reason, existing.described()
            )
            event.set_results(
                {
                    "removed": existing.described(),
                    "count": str(len(records.overrides)),
                }
            )

    def _on_list_overrides(self, event: ops.ActionEvent) -> None:
        state = self._require_state(event)
        if state is None:
            return
        overrides = state.peers.overrides
        results = {
            "count": str(len(overrides)),
            "overrides": "\n".join(override.line() for override in overrides),
            "added": "\n".join(override.described() for override in overrides),
        }
        config = state.config
        if config.overrides_repository:
            results["repository"] = (
                f"{redact(config.overrides_repository)} branch {config.overrides_branch}"
                f" file {config.overrides_file} applies too: see the report's overrides panel"
            )
        event.set_results(results)

    def _on_run_now(self, event: ops.ActionEvent) -> None:
        params = event.load_params(RunNowParams, errors="fail")
        if not self._require_leader(event, "run-now"):
            return
        state = self._require_state(event)
        if state is None:
            return
        self.reconcile()
        dry_run = params.dry_run or state.dry_run
        event.log("running one cycle" + (" (dry run)" if dry_run else ""))
        result = self.workload.run_as_service_user(
            cycle_command(self.layout, dry_run=dry_run), state.proxy_env
        )
        if result.returncode == CYCLE_BUSY_EXIT:
            event.fail("a cycle is already running (the timer's); try again when it ends")
            return
        if result.returncode not in (0, 1):
            event.fail(f"phased-updater run exited {result.returncode}:\n{_tail(result.stderr)}")
            return
        report_text = self.workload.read_text(self.layout.report_json)
        report = summarize_report(report_text) if report_text else None
        summary = report.describe() if report else "no report written"
        if result.returncode == 1:
            summary += "; some packages could not be evaluated"
        event.set_results(
            {
                "exit-code": str(result.returncode),
                "dry-run": str(dry_run).lower(),
                "summary": summary,
                "log": _tail(result.stderr),
            }
        )

    def _on_halt(self, event: ops.ActionEvent) -> None:
        params = event.load_params(HaltParams, errors="fail")
        if not self._require_leader(event, "halt"):
            return
        halt = Halt(
            series=params.series,
            source=params.source,
            version=params.version,
            reason=params.reason,
            by=params.by or "juju action",
            at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        # Recorded first: even if Launchpad cannot be reached, the phaser now leaves
        # the update alone.
        state = self._require_state(event)
        if state is None or self._update_peers(event, lambda peers: peers.with_halt(halt)) is None:
            return
        key = f"{halt.series}/{halt.source}/{halt.version}"
        if state.anonymous:
            event.set_results(
                {"halted": key, "launchpad": "not changed: no launchpad-credentials configured"}
            )
            return
        result = self.workload.run_as_service_user(halt_command(self.layout, halt), state.proxy_env)
        if result.returncode != 0:
            event.fail(
                f"halt of {key} recorded, but phased-updater halt exited {result.returncode}; "
                f"Launchpad may still phase it. Run the action again.\n{_tail(result.stderr)}"
            )
            return
        event.set_results({"halted": key, "launchpad": "phased-update percentage set to 0"})

    def _on_resume(self, event: ops.ActionEvent) -> None:
        params = event.load_params(ResumeParams, errors="fail")
        if not self._require_leader(event, "resume"):
            return
        state = self._require_state(event)
        if state is None:
            return
        key = params.key()
        # The engine records who resumed it and why, and lifts a halt from its file:
        # any stop, not only the halts this charm's peer data holds.
        command = resume_command(self.layout, key, params.by, params.reason)
        result = self.workload.run_as_service_user(command, state.proxy_env)
        if result.returncode != 0:
            event.fail(
                f"phased-updater resume exited {result.returncode}; {'/'.join(key)} stays "
                f"as it was.\n{_tail(result.stderr)}"
            )
            return
        halted = state.peers.find_halt(key) is not None
        if halted and self._update_peers(event, lambda p: p.without_halt(key)) is None:
            return
        event.set_results({"resumed": "/".join(key), "summary": _tail(result.stdout)})

    def _on_show_last_run(self, event: ops.ActionEvent) -> None:
        params = event.load_params(ShowLastRunParams, errors="fail")
        workload, layout = self.workload, self.layout
        results = show_last_run(
            workload.last_run(RUN_SERVICE),
            workload.read_text(layout.run_status),
            workload.read_text(layout.report_json),
            workload.journal_tail(RUN_SERVICE, params.lines),
        )
        if not self.unit.is_leader():
            results["note"] = (
                f"this unit is on standby; cycles run on the leader: "
                f"juju run {self.app.name}/leader show-last-run"
            )
        event.set_results(results)

    def _on_list_halts(self, event: ops.ActionEvent) -> None:
        state = self._require_state(event)
        if state is None:
            return
        lines = [
            f"{'/'.join(halt.key())}: {halt.reason} (by {halt.by} at {halt.at})"
            for halt in state.peers.halts
        ]
        event.set_results(list_halts_results(lines))


if __name__ == "__main__":  # pragma: nocover
    ops.main(PhasedUpdaterCharm)
