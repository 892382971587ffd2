"""`phased-updater check`: would this machine install an update phased at N%?"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from phased_updater.apt_draw import (
    DrawMethod,
    PhasingDecision,
    PhasingEnvironment,
    draw_for,
)
from phased_updater.errors import UsageError

MACHINE_ID_FILE = Path("/etc/machine-id")

DESCRIPTION = """\
Print whether a machine would install an update phased at PERCENTAGE, and the number
(0 to 100) it draws. The draw is apt's, bit for bit: std::seed_seq over
"SOURCE-VERSION-MACHINEID", std::minstd_rand, then libstdc++'s
uniform_int_distribution(0, 100). apt holds the update back when the draw is above
the percentage, so about 1 machine in 101 gets even an update stopped at 0%.

SOURCE and VERSION are the *source* package's name and version: every binary of one
upload shares a draw. With --update-manager they are the *binary* package's name and
version, as update-manager seeds Python's random with those.

apt does not phase at all, and installs the update, for security updates
(--security), when the machine ID is empty, when SOURCE_DATE_EPOCH is set, and in a
chroot. Those cases are printed as notes, without a draw. SOURCE_DATE_EPOCH and the
chroot test (apt's `ischroot -t`) are facts about the machine running this command, so
they are checked only when no --machine-id is given, i.e. when you ask about this
machine.
"""

EPILOG = """\
examples:
  phased-updater check hello 2.10-3ubuntu0.1 30
  phased-updater check hello 2.10-3ubuntu0.1 30 --machine-id 3d1219c7c4c5404aaa1f6d2a48adfda4
  phased-updater check --update-manager hello 2.10-3ubuntu0.1 30

exit status: 0 the answer was printed; 2 bad usage.
"""

ChrootProbe = Callable[[], bool]


@dataclass(frozen=True)
class MachineIdentity:
    """The machine ID to draw with, where it came from, and whether it is this machine."""

    machine_id: str
    origin: str
    is_local: bool


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "check",
        help="would a machine install an update phased at N%%? (apt's draw)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE", help="source package name")
    parser.add_argument("version", metavar="VERSION", help="source package version")
    parser.add_argument("percentage", metavar="PERCENTAGE", help="Phased-Update-Percentage, 0..100")
    parser.add_argument(
        "--machine-id",
        metavar="ID",
        help=f"the machine's ID (default: the first line of {MACHINE_ID_FILE}); "
        "an empty ID means apt does not phase",
    )
    parser.add_argument(
        "--update-manager",
        action="store_true",
        help="use the older update-manager draw (Python random) instead of apt's",
    )
    parser.add_argument(
        "--security",
        action="store_true",
        help="the update is (or passes through) a -security upload: never phased",
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """The sub-command's handler: reads this machine's facts, then prints the decision."""
    return run(args, environ=os.environ, probe_chroot=apt_sees_chroot)


def run(
    args: argparse.Namespace,
    *,
    environ: Mapping[str, str],
    probe_chroot: ChrootProbe,
    machine_id_file: Path = MACHINE_ID_FILE,
) -> int:
    """Decide and print; the machine's facts come in as arguments so tests set them."""
    percentage = parse_percentage(args.percentage)
    identity = resolve_machine_id(args.machine_id, machine_id_file)
    method = DrawMethod.UPDATE_MANAGER if args.update_manager else DrawMethod.APT
    # Only apt looks at the chroot and SOURCE_DATE_EPOCH, and only on the machine it
    # runs on: about another machine's ID, this machine's state says nothing.
    checks_local = identity.is_local and method is DrawMethod.APT
    environment = PhasingEnvironment(
        security_update=args.security,
        source_date_epoch_set=checks_local and "SOURCE_DATE_EPOCH" in environ,
        in_chroot=checks_local and probe_chroot(),
    )
    decision = draw_for(
        args.source,
        args.version,
        identity.machine_id,
        percentage,
        method=method,
        environment=environment,
    )
    print(render(args.source, args.version, identity, decision, checked_local=checks_local))
    return 0


def parse_percentage(text: str) -> int:
    """PERCENTAGE as an int 0..100, or UsageError naming the value."""
    try:
        value = int(text, 10)
    except ValueError:
        raise UsageError(f"percentage {text!r}: not a whole number") from None
    if not 0 <= value <= 100:
        raise UsageError(f"percentage {text!r}: must be 0 to 100")
    return value


def resolve_machine_id(given: str | None, machine_id_file: Path) -> MachineIdentity:
    """The ID given, else the first line of ``machine_id_file`` as apt reads it.

    apt reads one line and does not strip spaces; an unreadable file gives an empty ID,
    which makes apt skip phasing, so that is reported rather than treated as an error.
    """
    if given is not None:
        return MachineIdentity(given, "--machine-id", is_local=False)
    try:
        with machine_id_file.open(encoding="utf-8", errors="surrogateescape") as handle:
            first_line = handle.readline().rstrip("\n")
    except OSError as error:
        return MachineIdentity("", f"{machine_id_file}: {error.strerror}", is_local=True)
    return MachineIdentity(first_line, str(machine_id_file), is_local=True)


def apt_sees_chroot() -> bool:
    """What apt's chroot test answers here: ``ischroot -t`` (no ischroot: not a chroot).

    ``-t`` makes ischroot say "chroot" when it cannot tell, exactly as apt calls it.
    """
    ischroot = shutil.which("ischroot")
    if ischroot is None:
        return False
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [ischroot, "-t"], capture_output=True, check=False, timeout=30
    )
    return result.returncode == 0


def render(
    source: str,
    version: str,
    identity: MachineIdentity,
    decision: PhasingDecision,
    *,
    checked_local: bool,
) -> str:
    """The human answer: a few aligned ``label: value`` lines, then notes."""
    shown_id = repr(identity.machine_id) if identity.machine_id else "(empty)"
    rows = [
        ("update", f"{source} {version}"),
        ("machine ID", f"{shown_id} (from {identity.origin})"),
        ("client", decision.method.value),
        ("percentage", f"{decision.percentage}%"),
    ]
    if decision.draw is None:
        rows.append(("draw", f"none: {decision.method.value} does not draw in this case"))
        rows.append(("result", "installs the update (phasing skipped)"))
    elif decision.installs:
        rows.append(("draw", str(decision.draw)))
        rows.append(
            ("result", f"installs the update (draw {decision.draw} <= {decision.percentage})")
        )
    else:
        rows.append(("draw", str(decision.draw)))
        rows.append(
            ("result", f"holds the update back (draw {decision.draw} > {decision.percentage})")
        )
    notes = [reason.value for reason in decision.skipped]
    if decision.draw is not None and decision.percentage == 100:
        notes.append("at 100% the update is fully phased; apt does not even draw")
    if decision.draw is not None and not decision.installs:
        notes.append(f"this machine gets the update once the percentage reaches {decision.draw}")
    if decision.method is DrawMethod.APT and not checked_local and identity.machine_id:
        notes.append(
            "chroot and SOURCE_DATE_EPOCH were not checked: they are facts about the "
            "machine apt runs on, and this is another machine's ID"
        )
    width = max(len(label) for label, _ in rows)
    lines = [f"{label + ':':<{width + 1}} {value}" for label, value in rows]
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)
