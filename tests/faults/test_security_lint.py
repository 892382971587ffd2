"""ruff's security rules (`S`, flake8-bandit) run over all the code, and every finding
that is silenced says why: a `# noqa: S...` carries its reason on the same line or in
the comment line just above it, and every per-file ignore of an S rule in
pyproject.toml has a comment line just above it. `make lint` runs ruff itself."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = ("src", "charm", "tests", "bench", "scripts")
_NOQA = re.compile(r"#\s*noqa:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)(?P<why>.*)$")


def python_files() -> list[Path]:
    return sorted(
        path
        for top in CODE
        if (ROOT / top).is_dir()
        for path in (ROOT / top).rglob("*.py")
        if ".venv" not in path.parts
    )


def unexplained_noqa(lines: list[str]) -> list[int]:
    """Line numbers (from 1) of security noqa comments that give no reason."""
    found = []
    for number, line in enumerate(lines, start=1):
        match = _NOQA.search(line)
        if match is None or not re.search(r"\bS[0-9]+", match["codes"]):
            continue
        reason_here = re.search(r"[A-Za-z]{3}", match["why"]) is not None
        reason_above = number > 1 and lines[number - 2].strip().startswith("#")
        if not (reason_here or reason_above):
            found.append(number)
    return found


def test_the_security_rules_are_selected() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    assert "S" in lint["select"]
    assert not [code for code in lint.get("ignore", []) if code.startswith("S")]


def test_every_silenced_security_finding_says_why() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in python_files()
        for number in unexplained_noqa(path.read_text(encoding="utf-8").splitlines())
    ]
    assert missing == [], "a `# noqa: S...` without a reason"


def test_every_per_file_security_ignore_has_a_comment() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8").splitlines()
    config = tomllib.loads("\n".join(text))
    ignores = config["tool"]["ruff"]["lint"].get("per-file-ignores", {})
    missing = []
    for pattern, codes in ignores.items():
        if not any(code.startswith("S") for code in codes):
            continue
        [number] = [n for n, line in enumerate(text) if line.startswith(f'"{pattern}"')]
        if not text[number - 1].strip().startswith("#"):
            missing.append(pattern)
    assert missing == [], "per-file ignores of S rules without a comment above them"


def test_the_audit_catches_a_bare_noqa() -> None:
    pragma = "noqa"  # spelt out here, this file would fail its own audit
    lines = [
        "x = 1",
        f"run(cmd)  # {pragma}: S603",
        "# fixed argv, never a shell",
        f"run(cmd)  # {pragma}: S603",
        f"run(cmd)  # {pragma}: S603 - fixed argv",
        f"run(cmd)  # {pragma}: E501",
    ]
    assert unexplained_noqa(lines) == [2]
