"""What `charmcraft pack` would put into the .charm, from .jujuignore and charmcraft.yaml.

charmcraft cannot run here (it needs LXD or an Ubuntu 24.04 host), so this applies
.jujuignore's rules (gitignore syntax) to the tree as it is on disk, with the build
outputs the Makefile and the tests create added even when they are absent, plus the
`engine` part (src/phased_updater dumped into lib/). Anything outside the expected
set fails the test, and so does a file of charm/ that would be left out.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
# What the .charm may hold (the charm plugin adds venv/, dispatch and manifest.yaml).
EXPECTED = (
    "charm/*.py",
    "charm/alert_rules/*.rules",
    "charm/dashboards/*.json",
    "charmcraft.yaml",
    "metadata.yaml",
    "config.yaml",
    "actions.yaml",
    "requirements.txt",
    "README.md",
    "lib/phased_updater/*",
)
# Build outputs and caches, whether or not this checkout has them right now.
GENERATED = (
    "build/lib/phased_updater/cli.py",
    "demo-out/report/index.html",
    "bench/out/cycle.json",
    "phased-updater_amd64.charm",
    "charm/__pycache__/charm.cpython-311.pyc",
    "src/phased_updater/__pycache__/cli.cpython-311.pyc",
    "src/phased_updater.egg-info/PKG-INFO",
    ".pytest_cache/README.md",
    ".mypy_cache/3.11/charm.meta.json",
    ".ruff_cache/CACHEDIR.TAG",
    ".hypothesis/examples/x",
    "venv/bin/python",
    ".tox/py/bin/python",
)


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    negated: bool
    directory_only: bool


def _compile(glob: str, anchored: bool) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(glob):
        if glob.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            parts.append(".*")
            index += 2
        elif glob[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            parts.append("[^/]")
            index += 1
        elif glob[index] == "[":
            end = glob.index("]", index)
            parts.append(glob[index : end + 1])
            index = end + 1
        else:
            parts.append(re.escape(glob[index]))
            index += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(prefix + "".join(parts))


def parse_jujuignore(text: str) -> list[Rule]:
    """gitignore syntax: `#` comments, `!` re-includes, `/` anchors, a trailing `/` means
    directories only, and a pattern without a slash matches at any depth."""
    rules = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line.removeprefix("!")
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        rules.append(Rule(_compile(line.lstrip("/"), anchored), negated, directory_only))
    return rules


def ignored(path: str, rules: list[Rule]) -> bool:
    """Whether `path` (a file, relative, with /) is left out: git's rule that nothing
    inside an ignored directory can be re-included, and the last matching rule wins."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        candidate = "/".join(parts[:depth])
        is_dir = depth < len(parts)
        verdict = None
        for rule in rules:
            if rule.directory_only and not is_dir:
                continue
            if rule.pattern.fullmatch(candidate):
                verdict = not rule.negated
        if verdict:
            return True
    return False


def files_on_disk(rules: list[Rule]) -> set[str]:
    """Every file under the root, without descending into ignored directories."""
    found: set[str] = set()
    for directory, subdirectories, files in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else relative + "/"
        subdirectories[:] = [
            name
            for name in subdirectories
            if name != ".git" and not ignored(f"{prefix}{name}/x", rules)
        ]
        found.update(prefix + name for name in files)
    return found


def makefile_virtualenvs() -> list[str]:
    """Every virtualenv the Makefile creates (`VENV := .venv` and the like)."""
    text = (ROOT / "Makefile").read_text()
    return re.findall(r"^\w*VENV\s*:=\s*(\S+)", text, flags=re.MULTILINE)


def engine_files() -> set[str]:
    """The `engine` part: src/phased_updater, as git tracks it, organised into lib/."""
    part = yaml.safe_load((ROOT / "charmcraft.yaml").read_text())["parts"]["engine"]
    assert (part["plugin"], part["source"]) == ("dump", "src")
    assert part["organize"] == {"phased_updater": "lib/phased_updater"}
    listed = subprocess.run(
        ["git", "ls-files", "src/phased_updater"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {"lib/" + path.removeprefix("src/") for path in listed}


def charm_contents() -> set[str]:
    rules = parse_jujuignore((ROOT / ".jujuignore").read_text())
    candidates = files_on_disk(rules) | set(GENERATED)
    candidates |= {f"{venv}/bin/python" for venv in makefile_virtualenvs()}
    return {path for path in candidates if not ignored(path, rules)} | engine_files()


def expected(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in EXPECTED)


def test_the_charm_ships_only_the_charm_and_the_engine() -> None:
    contents = charm_contents()

    unexpected = sorted(path for path in contents if not expected(path))
    assert unexpected == [], f"would ship: {unexpected[:20]}"
    assert "charm/charm.py" in contents
    assert "lib/phased_updater/cli.py" in contents
    assert "metadata.yaml" in contents


def test_every_virtualenv_of_the_makefile_is_left_out() -> None:
    rules = parse_jujuignore((ROOT / ".jujuignore").read_text())
    venvs = makefile_virtualenvs()

    assert {".venv", ".venv-noble", ".venv-integration"} <= set(venvs)
    assert [venv for venv in venvs if not ignored(f"{venv}/bin/python", rules)] == []


def test_nothing_the_charm_needs_is_left_out() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "charm", "*.yaml", "requirements.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    contents = charm_contents()

    assert [path for path in tracked if path not in contents] == []


def test_the_matcher_follows_gitignore() -> None:
    rules = parse_jujuignore("/*\n!/charm/\n__pycache__/\n*.py[cod]\n/docs\n")

    assert ignored(".venv-noble/lib/x.py", rules)
    assert ignored("tests/unit/test_x.py", rules)
    assert not ignored("charm/charm.py", rules)
    assert ignored("charm/__pycache__/charm.cpython-311.pyc", rules)
    assert ignored("charm/x.pyc", rules)
    # What the old .jujuignore listed let a new virtualenv through.
    old = parse_jujuignore("/src\n/tests\n/.venv\n/.venv-integration\n*.charm\n")
    assert not ignored(".venv-noble/bin/python", old)
    assert ignored(".venv/bin/python", old)
