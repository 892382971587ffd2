"""The charm's systemd units, scored by Debian's `systemd-analyze security` (offline).

The units come from the charm itself under ops.testing; systemd-analyze reads them as
files (`--offline=true`), so no running systemd is needed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from ops import testing

import charm
from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload

ANALYZE = shutil.which("systemd-analyze")
UNITS = ("phased-updater-run.service", "phased-updater-serve.service")
# "OK" in systemd-analyze's words; the target.
MAX_EXPOSURE = 4.0

pytestmark = pytest.mark.skipif(
    ANALYZE is None, reason="Debian's systemd-analyze is missing: scripts/ensure-debs systemd"
)


def rendered_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, str]) -> Path:
    fake = FakeWorkload(tmp_path / "unit")
    monkeypatch.setattr(charm, "SystemWorkload", lambda layout: fake)
    ctx = testing.Context(PhasedUpdaterCharm)
    ctx.run(ctx.on.install(), testing.State(leader=True, config=config))
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        (units / name).write_text(fake.text(f"/etc/systemd/system/{name}"))
    return units


def exposure(unit: Path) -> tuple[float, str]:
    assert ANALYZE is not None
    completed = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", completed.stdout)
    assert match, completed.stdout + completed.stderr
    return float(match.group(1)), match.group(2)


@pytest.mark.parametrize("name", UNITS)
def test_both_services_score_ok(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    units = rendered_units(tmp_path, monkeypatch, {})

    score, verdict = exposure(units / name)

    assert score <= MAX_EXPOSURE, (name, score, verdict)
    assert verdict == "OK"


@pytest.mark.parametrize(("interval", "timeout"), [("6h", "10800s"), ("15m", "450s")])
def test_a_hung_cycle_is_killed_within_the_timer_period(
    interval: str, timeout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 17, 6: Type=oneshot has no start timeout by default, so a hung cycle kept
    # the timer from ever firing again.
    units = rendered_units(tmp_path, monkeypatch, {"interval": interval})
    run = (units / UNITS[0]).read_text()

    assert "Type=oneshot\n" in run
    assert f"TimeoutStartSec={timeout}\n" in run
    assert ANALYZE is not None
    # systemd itself reads the value the same way.
    completed = subprocess.run(
        [ANALYZE, "timespan", timeout], capture_output=True, text=True, check=True
    )
    assert "μs:" in completed.stdout
