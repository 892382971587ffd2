"""The classic apache2 charm's handling of `reverseproxy` and `vhost-config`, re-implemented
from its documented behaviour (see the reference notes), for tests to feed with the
relation data this charm writes.

- `get_reverseproxy_data`: every related unit of every reverseproxy relation, in order;
  it *returns* at the first unit without a `port` (dropping every unit and application
  after it); only the first unit of each application counts; every key becomes
  `<app>_<key>` and `<app>` alone is `private-address:port`, unbracketed; `<app>` is
  the application name without its non-alphanumerics.
- `render_vhosts`: each vhost-config unit's `vhosts` (YAML list of {port, base64
  template}), rendered with Jinja2's default environment (undefined is empty, the
  `default` filter works) over apache2's config plus the reverseproxy variables; a
  later unit's vhost for the same port replaces an earlier one's.
- `StockApache`: a private copy of Debian's /etc/apache2 (stock modules, conf-enabled,
  apache2.conf), with only its ports, run/log/lock directories and sites replaced, so
  `apache2ctl -t` and the server itself run as they would on the apache2 unit.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import yaml

APACHE = Path("/usr/sbin/apache2")
APACHECTL = Path("/usr/sbin/apache2ctl")
STOCK_TREE = Path("/etc/apache2")

Unit = tuple[str, Mapping[str, str]]  # (unit name, its unit databag)


def _name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]*", "", text)


def get_reverseproxy_data(relations: Sequence[Sequence[Unit]]) -> dict[str, str]:
    """`relations`: each reverseproxy relation's units, in the order apache2 reads them."""
    data: dict[str, str] = {}
    for units in relations:
        for unit_name, unit_data in units:
            if "port" not in unit_data:
                return data  # the early return
            app = _name(unit_name.split("/")[0])
            if app in data:
                continue  # only the first unit of an application
            for key, value in unit_data.items():
                data[_name(f"{app}_{key.replace('-', '_')}")] = value
            data[app] = f"{unit_data['private-address']}:{unit_data['port']}"
    return data


def render_vhosts(
    vhost_units: Sequence[Unit], config: Mapping[str, str], variables: Mapping[str, str]
) -> dict[str, str]:
    """Port -> rendered site, from every vhost-config unit that sets `vhosts`."""
    sites: dict[str, str] = {}
    environment = jinja2.Environment()  # noqa: S701 - apache2's own: no autoescape
    for _, unit_data in vhost_units:
        if "vhosts" not in unit_data:
            continue
        for item in yaml.safe_load(unit_data["vhosts"]):
            source = base64.b64decode(item["template"]).decode("utf-8")
            sites[str(item["port"])] = environment.from_string(source).render(
                {**config, **variables}
            )
    return sites


def render_template(source: str, config: Mapping[str, str], variables: Mapping[str, str]) -> str:
    """apache2's own `vhost_http_template` option, rendered the same way."""
    environment = jinja2.Environment()  # noqa: S701 - apache2's own: no autoescape
    return environment.from_string(source).render({**config, **variables})


@dataclass
class StockApache:
    """Debian's stock apache2 tree, copied under `root`, listening on `ports`."""

    root: Path
    ports: Sequence[int]
    sites: dict[str, str] = field(default_factory=dict)

    @property
    def confdir(self) -> Path:
        return self.root / "apache2"

    def environment(self) -> dict[str, str]:
        run = self.root / "run"
        user = "www-data" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C",
            "APACHE_CONFDIR": str(self.confdir),
            "APACHE_RUN_USER": user,
            "APACHE_RUN_GROUP": user,
            "APACHE_PID_FILE": str(run / "apache2.pid"),
            "APACHE_RUN_DIR": str(run),
            "APACHE_LOCK_DIR": str(self.root / "lock"),
            "APACHE_LOG_DIR": str(self.root / "log"),
        }

    def install(self) -> None:
        shutil.copytree(STOCK_TREE, self.confdir, symlinks=True)
        for name in ("run", "lock", "log"):
            (self.root / name).mkdir()
            if os.geteuid() == 0:
                shutil.chown(self.root / name, "www-data", "www-data")
        # envvars would point at the system's directories: ours instead.
        lines = [f"export {key}={value}" for key, value in self.environment().items()]
        (self.confdir / "envvars").write_text("\n".join(lines) + "\n")
        (self.confdir / "ports.conf").write_text(
            "".join(f"Listen 127.0.0.1:{port}\n" for port in self.ports)
        )
        for enabled in (self.confdir / "sites-enabled").iterdir():
            enabled.unlink()  # 000-default listens on *:80
        for name, text in self.sites.items():
            (self.confdir / "sites-available" / f"{name}.conf").write_text(text)
            (self.confdir / "sites-enabled" / f"{name}.conf").symlink_to(
                f"../sites-available/{name}.conf"
            )

    def configtest(self) -> subprocess.CompletedProcess[str]:
        """`apache2ctl -t` on this tree (what the charm runs before reloading)."""
        return subprocess.run(
            [str(APACHECTL), "-t"],
            env=self.environment(),
            capture_output=True,
            text=True,
            check=False,
        )

    def start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(APACHE), "-d", str(self.confdir), "-DFOREGROUND"], env=self.environment()
        )
