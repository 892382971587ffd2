"""The README's sample of `make demo` is what a real demo run prints.

The sample is trimmed: a line `...` stands for lines of the run left out, and every
other line must be printed by the run, in the same order. So a change to what the demo
prints fails here until the README is brought up to date.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OMITTED = "..."


def readme_sample() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What `make demo` shows", 1)[1]
    block = re.search(r"```\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "the README has no sample of the demo's output"
    return block.group(1).rstrip("\n").split("\n")


def missing_from(printed: list[str], sample: list[str]) -> str | None:
    """The first sample line the run did not print where the sample has it; None if none."""
    position = 0
    for line in sample:
        if line == OMITTED:
            continue
        try:
            position = printed.index(line, position) + 1
        except ValueError:
            return line
    return None


def test_the_readmes_demo_sample_is_what_the_demo_prints(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    env = dict(os.environ, PHASED_UPDATER_DEMO_OUT=str(out))
    run = subprocess.run(
        [sys.executable, "-m", "tests.doubles.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    printed = [line.rstrip() for line in run.stdout.split("\n")]
    sample = readme_sample()
    assert sample[0] == printed[printed.index(sample[0])]  # it starts at a printed line
    assert missing_from(printed, sample) is None, (
        f"README line not printed by the demo (in this order): {missing_from(printed, sample)!r}"
        "\n--- the demo printed:\n" + run.stdout
    )
    assert (out / "report" / "index.html").is_file()


def test_the_check_fails_on_a_line_the_demo_does_not_print() -> None:
    printed = ["cycle 1", "  a", "  b", "cycle 2", "  c"]
    assert missing_from(printed, ["cycle 1", "...", "cycle 2", "  c"]) is None
    assert missing_from(printed, ["cycle 1", "  c", "  b"]) == "  b"  # out of order
    assert missing_from(printed, ["cycle 1", "  z"]) == "  z"
