"""Our apt draw against the real apt: every (machine, update, percentage) must agree.

One throwaway apt root offers upgrades of many source packages, each with its own
version and Phased-Update-Percentage; ``apt-get -s upgrade`` runs once per generated
machine ID. See apt_sandbox.py for what apt does and how the sandbox defeats its
chroot and SOURCE_DATE_EPOCH shortcuts.
"""

from __future__ import annotations

import platform
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from phased_updater.apt_draw import apt_draw, receives_update, update_manager_draw
from tests.functional.apt_sandbox import AptSandbox, Binary

MACHINE_COUNT = 24
SOURCE_COUNT = 40
# apt turns each byte into a C++ `char`: signed on x86, unsigned on most other ports.
SIGNED_CHAR = platform.machine() in {"x86_64", "i386", "i686"}


def _true_binary() -> str:
    # An absolute path: apt resolves a bare name against its Dir::Bin, inside the root.
    found = shutil.which("true")
    assert found is not None
    return found


@dataclass(frozen=True)
class SourceUpdate:
    """One source package's update and the binaries built from it."""

    source: str
    version: str
    percentage: int
    binaries: tuple[Binary, ...]


def _source_updates(rng: random.Random) -> list[SourceUpdate]:
    # Percentages: the edges (0 still reaches 1 machine in 101; 100 skips the draw)
    # plus random values in between.
    percentages = [0, 1, 49, 50, 99, 100] + [rng.randint(0, 100) for _ in range(SOURCE_COUNT)]
    updates = []
    for index in range(SOURCE_COUNT):
        source = f"src{index}-{rng.choice(['lib', 'tool', 'py', 'x'])}{rng.randint(0, 99)}"
        epoch = "1:" if index % 7 == 0 else ""
        upstream = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}"
        old = f"{epoch}{upstream}-{rng.randint(1, 5)}"
        new = f"{old}ubuntu0.{rng.randint(1, 3)}"
        percentage = percentages[index]
        binaries: list[Binary] = []
        shape = index % 3
        if shape == 0:
            # The binary is the source: apt takes name and version from the binary.
            binaries.append(Binary(source, old, new, percentage))
        elif shape == 1:
            # Two binaries of one source share the source's draw.
            for suffix in ("-bin", "-data"):
                binaries.append(Binary(source + suffix, old, new, percentage, source))
        else:
            # A rebuild: the binary version differs from the source version, and the
            # draw must use the source version from the Source: field.
            binaries.append(
                Binary(source + "-rebuilt", old, new + "+b1", percentage, f"{source} ({new})")
            )
        updates.append(SourceUpdate(source, new, percentage, tuple(binaries)))
    return updates


def _machine_ids(rng: random.Random) -> list[str]:
    ids = [f"{rng.getrandbits(128):032x}" for _ in range(MACHINE_COUNT - 2)]
    # Non-ASCII bytes exercise the char signedness of seed_seq's input.
    ids += ["machine-\u00e9t\u00e9", "\u00ff\u00fe-" + f"{rng.getrandbits(64):016x}"]
    return ids


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[AptSandbox, list[SourceUpdate]]:
    rng = random.Random(20240611)  # noqa: S311 (reproducible test data)
    updates = _source_updates(rng)
    sandbox = AptSandbox(
        Path(tmp_path_factory.mktemp("apt-root")),
        [binary for update in updates for binary in update.binaries],
    )
    sandbox.build()
    return sandbox, updates


def test_our_draw_agrees_with_apt_on_every_case(
    scenario: tuple[AptSandbox, list[SourceUpdate]],
) -> None:
    sandbox, updates = scenario
    machines = _machine_ids(random.Random(4242))  # noqa: S311 (reproducible test data)
    disagreements: list[str] = []
    cases = 0
    update_manager_disagrees = 0
    for machine_id in machines:
        upgraded = sandbox.upgraded_by(machine_id)
        for update in updates:
            draw = apt_draw(update.source, update.version, machine_id, signed_char=SIGNED_CHAR)
            expected = receives_update(draw, update.percentage)
            cases += 1
            for binary in update.binaries:
                actual = binary.name in upgraded
                if actual != expected:
                    disagreements.append(
                        f"machine {machine_id!r} {update.source} {update.version} "
                        f"at {update.percentage}%: draw {draw}, apt "
                        f"{'installs' if actual else 'holds back'} {binary.name}"
                    )
                other = update_manager_draw(update.source, update.version, machine_id)
                if receives_update(other, update.percentage) != actual:
                    update_manager_disagrees += 1
    assert cases >= 200
    assert disagreements == []
    # The comparison has teeth: a different (wrong) draw is caught.
    assert update_manager_disagrees > 0


def test_apt_holds_back_some_and_installs_some(
    scenario: tuple[AptSandbox, list[SourceUpdate]],
) -> None:
    """Guards the set-up: phasing really is active in the sandbox."""
    sandbox, updates = scenario
    every_binary = {b.name for update in updates for b in update.binaries}
    upgraded = sandbox.upgraded_by("0123456789abcdef0123456789abcdef")
    assert upgraded
    assert upgraded < every_binary


@pytest.mark.parametrize(
    ("machine_id", "env", "options"),
    [
        pytest.param("", {}, {}, id="empty machine id"),
        pytest.param(
            "0123456789abcdef0123456789abcdef",
            {"SOURCE_DATE_EPOCH": "0"},
            {},
            id="SOURCE_DATE_EPOCH",
        ),
        pytest.param(
            "0123456789abcdef0123456789abcdef",
            {},
            {"Dir::Bin::ischroot": _true_binary()},
            id="chroot",
        ),
    ],
)
def test_apt_skips_phasing_where_we_say_it_does(
    scenario: tuple[AptSandbox, list[SourceUpdate]],
    machine_id: str,
    env: dict[str, str],
    options: dict[str, str],
) -> None:
    sandbox, updates = scenario
    every_binary = {b.name for update in updates for b in update.binaries}
    assert sandbox.upgraded_by(machine_id, extra_env=env, options=options) == every_binary
