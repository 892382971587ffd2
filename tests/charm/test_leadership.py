"""Only the leader runs the timer; reconciled on every event, leadership changes included."""

from __future__ import annotations

import ops
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.conftest import unit_data
from tests.charm.fake_workload import FakeWorkload

TIMER = "phased-updater-run.timer"


def test_leader_elected_enables_the_timer(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    state = ctx.run(ctx.on.install(), testing.State(leader=False))
    assert TIMER not in workload.enabled

    ctx.run(ctx.on.leader_elected(), testing.State(leader=True, relations=state.relations))

    assert TIMER in workload.enabled


def test_losing_leadership_disables_the_timer_on_the_next_hook(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")
    state = ctx.run(ctx.on.install(), testing.State(leader=True, relations={vhost}))
    assert TIMER in workload.enabled

    # Juju has no "leadership lost" hook: the next one (here update-status) notices.
    out = ctx.run(ctx.on.update_status(), testing.State(leader=False, relations=state.relations))

    assert TIMER not in workload.enabled
    assert ("disable --now", TIMER) in workload.calls
    assert "vhosts" not in unit_data(out, vhost)
    assert out.unit_status.message.startswith("standby: the leader runs the cycles")


def test_a_non_leader_stops_its_timer_even_while_blocked(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    ctx.run(ctx.on.install(), testing.State(leader=True))
    workload.calls.clear()

    out = ctx.run(ctx.on.config_changed(), testing.State(leader=False, config={"step": 0}))

    assert isinstance(out.unit_status, ops.BlockedStatus)
    # Two leaders' timers would phase the same updates twice; nothing else is touched.
    assert workload.calls == [("disable --now", TIMER)]
