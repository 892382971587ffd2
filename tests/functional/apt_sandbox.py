"""A throwaway apt root with a local file repository, to ask the real apt about phasing.

What apt does (checked against apt 2.6's source and behaviour; see also
``IsIgnoredPhasedUpdate`` and ``isChroot`` in ``apt-pkg/upgrade.cc`` and
``apt-pkg/aptconfiguration.cc``):

- Phasing is applied only by the upgrade calculations (``upgrade``, ``dist-upgrade``,
  ``full-upgrade``). ``apt-get install PKG`` of an upgradable package installs the
  phased version regardless, so ``apt-get -s upgrade`` is what exposes the decision:
  a held-back package simply has no ``Inst`` line (apt 2.6 lists it under "kept
  back"; apt >= 2.7 says "deferred due to phasing"; we parse only ``Inst`` lines).
- The machine ID is ``APT::Machine-ID``; when that is empty apt reads
  ``Dir::Etc::machine-id`` or ``<Dir::Etc>/../machine-id`` -- inside our root, which
  has none, so an empty ``APT::Machine-ID`` means "no machine ID".
- apt skips phasing when ``SOURCE_DATE_EPOCH`` is in its environment (presence, not
  value), so we run apt with it removed.
- apt skips phasing in a chroot, which it detects by running
  ``Dir::Bin::ischroot`` (default ``/usr/bin/ischroot``) with ``-t``; ``-t`` treats
  "cannot tell" (e.g. some containers) as a chroot. We set ``Dir::Bin::ischroot``
  to ``false`` so apt never sees a chroot, whatever machine runs the test.
- ``APT::Get::Phase-Policy``, ``APT::Get::{Always,Never}-Include-Phased-Updates``
  and their ``Update-Manager::`` fallbacks override phasing; host configuration is
  still read from ``/etc/apt/apt.conf.d``, so we pin all of them to false.
- A p-u-p of 100 (or no field) means apt does not draw at all.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

_INST_LINE = re.compile(r"^Inst (\S+) \[", re.MULTILINE)
_ENSURE_DEBS = Path(__file__).resolve().parents[2] / "scripts" / "ensure-debs"


@dataclass(frozen=True)
class Binary:
    """One binary package: installed at ``old_version``, offered at ``new_version``."""

    name: str
    old_version: str
    new_version: str
    percentage: int
    # The Source: field as apt should read it, e.g. "foo" or "foo (1.0-1)"; None when
    # the source package has the binary's name and version.
    source_field: str | None = None


@dataclass
class AptSandbox:
    """An apt root under ``root`` whose repository offers ``binaries`` as upgrades."""

    root: Path
    binaries: list[Binary] = field(default_factory=list)

    def build(self) -> None:
        """Write the status file, repository and sources, then run ``apt-get update``."""
        for directory in (
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
            "repo",
        ):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        status = "".join(_stanza(b, b.old_version, installed=True) for b in self.binaries)
        (self.root / "var/lib/dpkg/status").write_text(status, encoding="utf-8")
        packages = "".join(_stanza(b, b.new_version, installed=False) for b in self.binaries)
        (self.root / "repo/Packages").write_text(packages, encoding="utf-8")
        # A Release file stops apt from probing for compressed Packages variants.
        (self.root / "repo/Release").write_text(
            "Origin: phased-updater-test\nSuite: test-updates\nCodename: test\n",
            encoding="utf-8",
        )
        (self.root / "etc/apt/sources.list").write_text(
            f"deb [trusted=yes] file:{self.root / 'repo'} ./\n", encoding="utf-8"
        )
        self._apt_get(["update"])

    def upgraded_by(
        self,
        machine_id: str,
        *,
        extra_env: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> set[str]:
        """Names of the binaries ``apt-get -s upgrade`` installs on machine ``machine_id``."""
        settings = {"APT::Machine-ID": machine_id, **(options or {})}
        output = self._apt_get(["-s", "upgrade"], options=settings, extra_env=extra_env)
        return set(_INST_LINE.findall(output))

    def _apt_get(
        self,
        arguments: list[str],
        *,
        options: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> str:
        settings = {
            "Dir": str(self.root),
            "Dir::State::status": str(self.root / "var/lib/dpkg/status"),
            "Debug::NoLocking": "true",
            # Running as root, apt would drop to _apt for file: fetches; stay simple.
            "APT::Sandbox::User": "root",
            "Dir::Bin::ischroot": _false_binary(),
            "APT::Get::Phase-Policy": "false",
            "APT::Get::Always-Include-Phased-Updates": "false",
            "APT::Get::Never-Include-Phased-Updates": "false",
            "Update-Manager::Always-Include-Phased-Updates": "false",
            "Update-Manager::Never-Include-Phased-Updates": "false",
            **(options or {}),
        }
        command = [apt_get_binary()]
        for name, value in settings.items():
            command += ["-o", f"{name}={value}"]
        environment = {
            key: value for key, value in os.environ.items() if key != "SOURCE_DATE_EPOCH"
        }
        environment.update({"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"})
        environment.update(extra_env or {})
        result = subprocess.run(
            command + arguments,
            capture_output=True,
            text=True,
            env=environment,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command + arguments)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout


def apt_get_binary() -> str:
    """The path of apt-get, installing the ``apt`` package first if it is missing."""
    found = shutil.which("apt-get")
    if found is None:
        subprocess.run([str(_ENSURE_DEBS), "apt"], check=True, timeout=1200)
        found = shutil.which("apt-get")
    if found is None:
        raise RuntimeError("apt-get is not available even after scripts/ensure-debs apt")
    return found


def _false_binary() -> str:
    found = shutil.which("false")
    if found is None:
        raise RuntimeError("no `false` binary to stand in for ischroot")
    return found


def _stanza(binary: Binary, version: str, *, installed: bool) -> str:
    lines = [f"Package: {binary.name}"]
    if installed:
        lines.append("Status: install ok installed")
    lines += [
        "Priority: optional",
        "Section: misc",
        "Maintainer: Test <test@example.org>",
        "Architecture: all",
        f"Version: {version}",
    ]
    if not installed:
        # Only the candidate's Source: field matters to the draw.
        if binary.source_field is not None:
            lines.append(f"Source: {binary.source_field}")
        lines += [
            f"Phased-Update-Percentage: {binary.percentage}",
            f"Filename: pool/{binary.name}_{version.replace(':', '%3a')}_all.deb",
            "Size: 1000",
        ]
    lines.append("Description: phasing test package")
    return "\n".join(lines) + "\n\n"
