"""Every action's success and failure."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from ops import testing
from peer_data import Halt, Override
from workload import CommandResult

from charm import PhasedUpdaterCharm
from tests.charm.conftest import peer_records, peer_relation, report
from tests.charm.fake_workload import FakeWorkload

PROBLEM = "https://errors.ubuntu.com/problem/" + "0123456789" * 4
BUCKET = "https://errors.ubuntu.com/bucket/?id=/usr/bin/foo:11:bar"
OVERRIDE = Override(
    "openssl", "3.0.13-0ubuntu3.5", PROBLEM, "alice", "an old crash", "2025-01-01T09:00:00Z"
)
HALT = Halt("noble", "glibc", "2.39-0ubuntu8.4", "breaks boot", "sru-team", "2025-01-01T10:00:00Z")
OVERRIDES_FILE = Path("/etc/phased-updater/overrides.json")
REPORT = Path("/var/lib/phased-updater/report/phased-updates.json")
WRAPPER = "/opt/phased-updater/bin/phased-updater"
CONFIG = "/etc/phased-updater/config.toml"
RUN = [
    "/usr/bin/flock",
    "--nonblock",
    "--conflict-exit-code",
    "75",
    "/var/lib/phased-updater/cycle.lock",
    WRAPPER,
    "run",
    "--config",
    CONFIG,
]


def with_credentials(
    *, leader: bool = True, relations: Iterable[testing.RelationBase] | None = None
) -> testing.State:
    secret = testing.Secret(tracked_content={"credentials": "[1]\nconsumer_key = x\n"})
    return testing.State(
        leader=leader,
        config={"launchpad-credentials": secret.id},
        secrets={secret},
        relations=relations if relations is not None else {peer_relation()},
    )


def override_params(problem: str = PROBLEM, **changes: str) -> dict[str, str]:
    params = {
        "source": "openssl",
        "version": "3.0.13-0ubuntu3.5",
        "problem": problem,
        "by": "bob",
        "reason": "the crash is in libfoo, not in openssl",
    }
    return {**params, **changes}


def written_overrides(workload: FakeWorkload) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = json.loads(workload.files[OVERRIDES_FILE].content)["overrides"]
    return entries


# -- add-override / remove-override / list-overrides ------------------------------


@pytest.mark.parametrize("problem", [PROBLEM, BUCKET, "increased-rate"])
def test_add_override_keeps_who_added_it_and_why(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, problem: str
) -> None:
    state = testing.State(leader=True, relations={peer_relation()})

    out = ctx.run(ctx.on.action("add-override", params=override_params(problem)), state)

    line = f"openssl, 3.0.13-0ubuntu3.5, {problem}"
    assert ctx.action_results == {"added": line, "count": "1"}
    [record] = peer_records(out).overrides
    assert (record.line(), record.by, record.reason) == (
        line,
        "bob",
        "the crash is in libfoo, not in openssl",
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.at)
    assert written_overrides(workload) == [record.to_json()]


def test_adding_an_override_again_keeps_the_first_record_and_says_whose_it_is(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = testing.State(leader=True, relations={peer_relation([OVERRIDE])})

    with pytest.raises(testing.ActionFailed) as failure:
        # The same problem in another spelling is the same override.
        ctx.run(ctx.on.action("add-override", params=override_params(PROBLEM + "/")), state)

    assert failure.value.message == (
        f"already overridden: openssl, 3.0.13-0ubuntu3.5, {PROBLEM}"
        " (added by alice with add-override on 2025-01-01: an old crash)"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (override_params(source="OpenSSL"), "source 'OpenSSL' is not a Debian source package"),
        (override_params(version="ubuntu1"), "version 'ubuntu1' is not a Debian version"),
        (override_params("https://errors.ubuntu.com/problem/xyz"), "is neither an Error Tracker"),
        (override_params("increased rate"), "is neither an Error Tracker problem URL"),
        (override_params(PROBLEM + ",x"), "is neither an Error Tracker problem URL"),
        (override_params("https://errors.ubuntu.com/bucket/?q=1"), "is neither an Error Tracker"),
        (override_params("http://example.com/foo"), "is neither an Error Tracker"),
        (override_params(by=""), "by must not be empty"),
        (override_params(reason="  "), "reason must not be empty"),
        (override_params(reason="two\nlines"), "reason must be one line"),
        (
            {k: v for k, v in override_params().items() if k != "reason"},
            "reason must not be empty",
        ),
    ],
)
@pytest.mark.parametrize("action", ["add-override", "remove-override"])
def test_override_actions_reject_bad_parameters(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    action: str,
    params: dict[str, str],
    message: str,
) -> None:
    state = testing.State(leader=True, relations={peer_relation([OVERRIDE])})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action(action, params=params), state)

    assert failure.value.message.startswith("Error in action parameters: ")
    assert message in failure.value.message


def test_the_charm_and_the_engine_accept_the_same_problems() -> None:
    """One rule: the action refuses exactly what the engine's files would skip."""
    from action_params import check_problem

    from phased_updater.overrides import parse_line

    for thing in (PROBLEM, BUCKET, "increased-rate", "http://example.com/foo", "x", PROBLEM + ","):
        engine_refuses = isinstance(parse_line(f"openssl, 1.0-1, {thing}"), str)
        try:
            check_problem(thing)
            charm_refuses = False
        except ValueError:
            charm_refuses = True
        assert charm_refuses == engine_refuses, thing


@pytest.mark.parametrize("action", ["add-override", "remove-override"])
def test_override_actions_need_the_leader(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload, action: str
) -> None:
    state = testing.State(leader=False, relations={peer_relation([OVERRIDE])})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action(action, params=override_params()), state)

    assert failure.value.message == (
        f"{action} changes shared state, so it runs on the leader only: "
        f"use juju run phased-updater/leader {action} ..."
    )


def test_add_override_before_the_peer_relation_exists(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("add-override", params=override_params()), testing.State(leader=True))

    assert "peer relation does not exist yet" in failure.value.message


def test_remove_override_says_what_it_removed_and_logs_who_and_why(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    caplog: pytest.LogCaptureFixture,
) -> None:
    state = testing.State(leader=True, relations={peer_relation([OVERRIDE])})

    with caplog.at_level(logging.INFO):
        out = ctx.run(ctx.on.action("remove-override", params=override_params()), state)

    assert ctx.action_results == {"removed": OVERRIDE.described(), "count": "0"}
    assert peer_records(out).overrides == ()
    assert written_overrides(workload) == []
    assert "override removed by bob (the crash is in libfoo, not in openssl)" in caplog.text


def test_remove_unknown_override_fails(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = testing.State(leader=True, relations={peer_relation([OVERRIDE])})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("remove-override", params=override_params("increased-rate")), state)

    assert failure.value.message == (
        "no override openssl, 3.0.13-0ubuntu3.5, increased-rate; see the list-overrides action"
    )


def test_list_overrides_runs_on_any_unit(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # Added by an earlier charm revision, before by and reason were asked for.
    second = Override("glibc", "2.39-0ubuntu8.4", "increased-rate")
    state = testing.State(leader=False, relations={peer_relation([OVERRIDE, second])})

    ctx.run(ctx.on.action("list-overrides"), state)

    assert ctx.action_results == {
        "count": "2",
        "overrides": f"openssl, 3.0.13-0ubuntu3.5, {PROBLEM}\n"
        "glibc, 2.39-0ubuntu8.4, increased-rate",
        "added": f"openssl, 3.0.13-0ubuntu3.5, {PROBLEM} (added by alice with add-override"
        " on 2025-01-01: an old crash)\n"
        "glibc, 2.39-0ubuntu8.4, increased-rate (added by unknown with add-override)",
    }


def test_list_overrides_names_the_repository_that_applies_too(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    config = {"overrides-repository": "https://bot:tok@git.example/o.git", "overrides-branch": "x"}
    state = testing.State(leader=False, config=config, relations={peer_relation()})

    ctx.run(ctx.on.action("list-overrides"), state)

    assert ctx.action_results is not None
    assert ctx.action_results["repository"] == (
        "https://[hidden]@git.example/o.git branch x file phased-updates-overrides.txt"
        " applies too: see the report's overrides panel"
    )


def test_list_overrides_fails_while_blocked(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = testing.State(leader=False, config={"step": 0}, relations={peer_relation()})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("list-overrides"), state)

    assert failure.value.message == (
        "the charm is blocked until this is fixed: invalid step 0: must be between 1 and 100"
    )


# -- run-now ------------------------------------------------------------------------


def test_run_now_returns_the_summary(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    workload.command_results.append(CommandResult(0, "", "INFO phasing...\nINFO done\n"))
    workload.path(REPORT).parent.mkdir(parents=True)
    workload.path(REPORT).write_text(
        report(
            ("noble", "openssl", "3.0.13-0ubuntu3.5", "phasing"),
            ("jammy", "glibc", "2.35-0ubuntu3.9", "stopped"),
            ("noble", "bash", "5.2.21-2ubuntu4.1", "complete"),
        )
    )

    ctx.run(ctx.on.action("run-now"), with_credentials())

    assert workload.commands[-1][0] == RUN
    assert ctx.action_results == {
        "exit-code": "0",
        "dry-run": "false",
        "summary": "phasing 2 updates (1 stopped) in 2 series",
        "log": "INFO phasing...\nINFO done",
    }


def test_run_now_dry_run(ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload) -> None:
    ctx.run(ctx.on.action("run-now", params={"dry-run": True}), with_credentials())

    assert workload.commands[-1][0] == [*RUN, "--dry-run"]
    assert ctx.action_results is not None
    assert ctx.action_results["summary"] == "no report written"


def test_run_now_without_credentials_is_always_a_dry_run(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.action("run-now"), testing.State(leader=True))

    assert workload.commands[-1][0] == [*RUN, "--dry-run"]


def test_run_now_with_unevaluated_packages_still_succeeds(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    workload.command_results.append(CommandResult(1, "", "WARNING errors.ubuntu.com timed out\n"))

    ctx.run(ctx.on.action("run-now"), with_credentials())

    assert ctx.action_results is not None
    assert ctx.action_results["exit-code"] == "1"
    assert ctx.action_results["summary"] == (
        "no report written; some packages could not be evaluated"
    )


@pytest.mark.parametrize(
    ("returncode", "stderr", "message"),
    [
        (75, "", "a cycle is already running (the timer's); try again when it ends"),
        (
            2,
            "phased-updater run: invalid step\n",
            "phased-updater run exited 2:\nphased-updater run: invalid step",
        ),
    ],
)
def test_run_now_failures(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    returncode: int,
    stderr: str,
    message: str,
) -> None:
    workload.command_results.append(CommandResult(returncode, "", stderr))

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("run-now"), with_credentials())

    assert failure.value.message == message


def test_run_now_needs_the_leader(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("run-now"), testing.State(leader=False))

    assert "use juju run phased-updater/leader run-now" in failure.value.message
    assert workload.commands == []


# -- halt / resume ------------------------------------------------------------------


def halt_params(**overrides: str) -> dict[str, str]:
    return {
        "source": "glibc",
        "version": "2.39-0ubuntu8.4",
        "series": "noble",
        "reason": "breaks boot",
        "by": "sru-team",
        **overrides,
    }


def test_halt_records_and_sets_launchpad_to_zero(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    out = ctx.run(ctx.on.action("halt", params=halt_params()), with_credentials())

    assert ctx.action_results == {
        "halted": "noble/glibc/2.39-0ubuntu8.4",
        "launchpad": "phased-update percentage set to 0",
    }
    assert workload.commands[-1][0] == [
        WRAPPER,
        "halt",
        "--config",
        CONFIG,
        "--series",
        "noble",
        "--source",
        "glibc",
        "--version",
        "2.39-0ubuntu8.4",
        "--reason",
        "breaks boot",
        "--by",
        "sru-team",
    ]
    [halt] = peer_records(out).halts
    assert (halt.series, halt.source, halt.version, halt.reason, halt.by) == (
        "noble",
        "glibc",
        "2.39-0ubuntu8.4",
        "breaks boot",
        "sru-team",
    )
    assert halt.at.endswith("Z")
    assert '"source": "glibc"' in workload.files[Path("/etc/phased-updater/halts.json")].content


def test_halt_without_credentials_only_records(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = testing.State(leader=True, relations={peer_relation()})

    out = ctx.run(ctx.on.action("halt", params=halt_params(by="")), state)

    assert ctx.action_results == {
        "halted": "noble/glibc/2.39-0ubuntu8.4",
        "launchpad": "not changed: no launchpad-credentials configured",
    }
    assert workload.commands == []
    assert peer_records(out).halts[0].by == "juju action"


def test_halt_keeps_the_record_when_launchpad_fails(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    workload.command_results.append(CommandResult(1, "", "launchpad: 503 Service Unavailable\n"))
    state = with_credentials()

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("halt", params=halt_params()), state)

    assert failure.value.message == (
        "halt of noble/glibc/2.39-0ubuntu8.4 recorded, but phased-updater halt exited 1; "
        "Launchpad may still phase it. Run the action again.\n"
        "launchpad: 503 Service Unavailable"
    )
    assert '"source": "glibc"' in workload.files[Path("/etc/phased-updater/halts.json")].content


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (halt_params(series="Noble"), "series 'Noble' is not a series name"),
        (halt_params(reason=" "), "reason must not be empty"),
        (halt_params(reason="a\nb"), "reason must be one line"),
        (halt_params(source="g"), "source 'g' is not a Debian source package name"),
    ],
)
def test_halt_rejects_bad_parameters(
    ctx: testing.Context[PhasedUpdaterCharm],
    workload: FakeWorkload,
    params: dict[str, str],
    message: str,
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("halt", params=params), with_credentials())

    assert message in failure.value.message
    assert workload.commands == []


def test_halt_needs_the_leader(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("halt", params=halt_params()), with_credentials(leader=False))

    assert "use juju run phased-updater/leader halt" in failure.value.message


def resume_params() -> dict[str, str]:
    return {
        "source": "glibc",
        "version": "2.39-0ubuntu8.4",
        "series": "noble",
        "by": "sru-team",
        "reason": "fixed in -5",
    }


def test_resume(ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload) -> None:
    state = with_credentials(relations={peer_relation(halts=[HALT])})

    out = ctx.run(ctx.on.action("resume", params=resume_params()), state)

    assert ctx.action_results is not None
    assert ctx.action_results["resumed"] == "noble/glibc/2.39-0ubuntu8.4"
    assert workload.commands[-1][0] == [
        WRAPPER,
        "resume",
        "--config",
        CONFIG,
        "--series",
        "noble",
        "--source",
        "glibc",
        "--version",
        "2.39-0ubuntu8.4",
        "--by",
        "sru-team",
        "--reason",
        "fixed in -5",
    ]
    assert peer_records(out).halts == ()


def test_resume_lifts_a_stop_that_is_not_a_halt_through_the_engine(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    """A person's stop on Launchpad or an automatic one: the engine records the resume."""
    out = ctx.run(ctx.on.action("resume", params=resume_params()), with_credentials())

    assert ctx.action_results is not None
    assert ctx.action_results["resumed"] == "noble/glibc/2.39-0ubuntu8.4"
    assert workload.commands[-1][0][:2] == [WRAPPER, "resume"]
    assert peer_records(out).halts == ()


def test_resume_needs_who_and_why(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("resume", params={**resume_params(), "by": " "}), with_credentials())

    assert "by must not be empty" in failure.value.message


def test_resume_keeps_the_halt_when_the_engine_fails(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    workload.command_results.append(CommandResult(1, "", "launchpad: 401 Unauthorized\n"))
    state = with_credentials(relations={peer_relation(halts=[HALT])})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("resume", params=resume_params()), state)

    assert failure.value.message == (
        "phased-updater resume exited 1; noble/glibc/2.39-0ubuntu8.4 stays as it was.\n"
        "launchpad: 401 Unauthorized"
    )


def test_resume_needs_the_leader(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = with_credentials(leader=False, relations={peer_relation(halts=[HALT])})

    with pytest.raises(testing.ActionFailed) as failure:
        ctx.run(ctx.on.action("resume", params=resume_params()), state)

    assert "use juju run phased-updater/leader resume" in failure.value.message
