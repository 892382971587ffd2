"""People who act on Launchpad beside the phaser, through the real launchpadlib.

An SRU member or archive admin stops or continues phasing with ubuntu-archive-tools'
`change-override --percentage N --source-and-binary`: a changeOverride of every deb of
the upload, made with their own credentials, so Launchpad names them as the creator of
each new record. `SruMember` does exactly that against the Launchpad double.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from launchpadlib.credentials import AccessToken, Credentials
from launchpadlib.launchpad import Launchpad

from tests.doubles.launchpad import LaunchpadDouble

CONSUMER = "ubuntu-archive-tools"


@dataclass
class SruMember:
    launchpad: LaunchpadDouble
    home: Path
    name: str = "sru-steve"

    def __post_init__(self) -> None:
        self.launchpad.add_token(CONSUMER, f"{self.name}-token", "secret", person=self.name)

    def change_override(
        self,
        series: str,
        source: str,
        version: str,
        percentage: int,
        *,
        at: datetime,
        arch: str | None = None,
    ) -> int:
        """Set every deb of the upload (or only those built on `arch`) to `percentage` at
        `at`; returns how many were written."""
        self.launchpad.clock = at
        credentials = Credentials(
            CONSUMER, access_token=AccessToken(f"{self.name}-token", "secret")
        )
        lp = Launchpad(
            credentials,
            None,
            None,
            service_root=self.launchpad.service_root,
            version="devel",
            cache=str(self.home / f"{self.name}-cache"),
            proxy_info=None,
        )
        ubuntu = lp.distributions["ubuntu"]
        [publication] = ubuntu.main_archive.getPublishedSources(
            distro_series=ubuntu.getSeries(name_or_version=series),
            source_name=source,
            exact_match=True,
            version=version,
            pocket="Updates",
            status="Published",
        )
        written = 0
        for binary in publication.getPublishedBinaries():
            on_arch = arch is None or binary.distro_arch_series_link.endswith(f"/{arch}")
            if not binary.is_debug and on_arch:
                binary.changeOverride(new_phased_update_percentage=percentage)
                written += 1
        return written
