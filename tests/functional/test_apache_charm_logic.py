"""The charm's website and apache-vhost-config data, through apache2's own logic, into
Debian's stock apache2 tree, and the report fetched back through the real apache2.

The data comes from the charm under ops.testing, one run per unit (1 or 3 units, the
leader not the first when there are 3), on IPv4 or IPv6; another application is
related to apache2's reverseproxy after this one and has its own vhost. apache2's
handling is tests/functional/apache2_charm.py (its early return included).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ops import testing

import charm
from charm import PhasedUpdaterCharm
from tests.charm.conftest import PEER
from tests.charm.fake_workload import FakeWorkload
from tests.functional.apache2_charm import (
    APACHE,
    StockApache,
    Unit,
    get_reverseproxy_data,
    render_template,
    render_vhosts,
)

HOSTS = {"ipv4": "127.0.0.1", "ipv6": "::1"}
CONFIG = {"servername": "phasing.test"}
# The other application's vhost, as an operator sets apache2's vhost_http_template.
OTHER_TEMPLATE = """\
<IfModule !proxy_module>
    LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
</IfModule>
<IfModule !proxy_http_module>
    LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
</IfModule>
<VirtualHost *:81>
    ServerName other.test
    ProxyPass / http://{{ otherapp }}/
</VirtualHost>
"""
READY_WITHIN = 20.0

pytestmark = pytest.mark.skipif(
    not APACHE.exists(), reason="Debian's apache2 is missing: scripts/ensure-debs apache2"
)


def has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(host: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            pass
        try:
            code = process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"process exited {code} before listening on {host}:{port}")
    raise AssertionError(f"nothing listening on {host}:{port} after {READY_WITHIN}s")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=10)


def serve(report_dir: Path, host: str, processes: list[subprocess.Popen[bytes]], body: str) -> int:
    """`phased-updater serve` of a report dir whose phased-updates.json is `body`."""
    report_dir.mkdir(parents=True)
    (report_dir / "phased-updates.json").write_text(body)
    port = free_port(host)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    command = [sys.executable, "-m", "phased_updater.cli", "serve", "--report-dir"]
    process = subprocess.Popen([*command, str(report_dir), "--bind", bind])
    processes.append(process)
    wait_until_listening(host, port, process)
    return port


def unit_data(
    unit: int, units: int, leader: bool, host: str, port: int, tmp_path: Path, monkeypatch: Any
) -> tuple[dict[str, str], dict[str, str]]:
    """This unit's website and apache-vhost-config data, from the charm itself."""
    monkeypatch.setattr(
        charm, "SystemWorkload", lambda layout: FakeWorkload(tmp_path / f"unit-{unit}")
    )
    juju = {"egress-subnets": host, "ingress-address": host, "private-address": host}
    website = testing.Relation("website", remote_app_name="apache2", local_unit_data=juju)
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2", local_unit_data=juju)
    relations: set[Any] = {website, vhost}
    if units > 1:
        relations.add(
            testing.PeerRelation(PEER, peers_data={n: {} for n in range(units) if n != unit})
        )
    networks = {
        testing.Network(
            endpoint,
            bind_addresses=[testing.BindAddress([testing.Address(host)])],
            ingress_addresses=[host],
        )
        for endpoint in ("website", "apache-vhost-config")
    }
    state = testing.State(
        leader=leader, config={"report-port": port}, relations=relations, networks=networks
    )
    ctx = testing.Context(PhasedUpdaterCharm, unit_id=unit)
    out = ctx.run(ctx.on.config_changed(), state)
    found_website: Any = out.get_relation(website.id)
    found_vhost: Any = out.get_relation(vhost.id)
    return dict(found_website.local_unit_data), dict(found_vhost.local_unit_data)


def fetch(port: int, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        return reply.status, reply.read().decode()


@pytest.mark.parametrize(
    ("units", "family"),
    [(1, "ipv4"), (3, "ipv4"), (1, "ipv6"), (3, "ipv6")],
    ids=["1-unit-ipv4", "3-units-ipv4", "1-unit-ipv6", "3-units-ipv6"],
)
def test_the_report_and_the_next_application_through_the_stock_apache2(
    units: int,
    family: str,
    processes: list[subprocess.Popen[bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if family == "ipv6" and not has_ipv6():
        pytest.skip("no IPv6 loopback on this machine")
    host = HOSTS[family]
    leader = 1 if units == 3 else 0  # with 3 units, apache2 reads a non-leader first
    ours_website: list[Unit] = []
    ours_vhost: list[Unit] = []
    for unit in range(units):
        body = json.dumps({"unit": unit, "leader": unit == leader})
        port = serve(tmp_path / f"report-{unit}", host, processes, body)
        website, vhost = unit_data(unit, units, unit == leader, host, port, tmp_path, monkeypatch)
        ours_website.append((f"phased-updater/{unit}", website))
        ours_vhost.append((f"phased-updater/{unit}", vhost))
        # Issue 17, 1: every unit has a port, so apache2 reads on past this application.
        assert website["port"] == str(port)
        assert ("vhosts" in vhost) == (unit == leader)
    other_port = serve(tmp_path / "report-other", "127.0.0.1", processes, '{"other": true}')
    other: Unit = ("other-app/0", {"private-address": "127.0.0.1", "port": str(other_port)})

    variables = get_reverseproxy_data([ours_website, [other]])
    sites = render_vhosts(ours_vhost, CONFIG, variables)
    other_site = render_template(OTHER_TEMPLATE, CONFIG, variables)

    assert list(sites) == ["80"]
    assert f"    ProxyPass / http://127.0.0.1:{other_port}/\n" in other_site
    front, other_front = free_port("127.0.0.1"), free_port("127.0.0.1")
    apache = StockApache(
        tmp_path / "apache",
        [front, other_front],
        {
            "phasedupdater_80": sites["80"].replace(
                "<VirtualHost *:80>", f"<VirtualHost *:{front}>"
            ),
            "otherapp_81": other_site.replace(
                "<VirtualHost *:81>", f"<VirtualHost *:{other_front}>"
            ),
        },
    )
    apache.install()
    check = apache.configtest()
    assert check.returncode == 0, check.stderr
    assert "Syntax OK" in check.stderr
    server = apache.start()
    processes.append(server)
    wait_until_listening("127.0.0.1", front, server)
    wait_until_listening("127.0.0.1", other_front, server)

    status, body = fetch(front, "/phased-updates.json")
    assert (status, json.loads(body)) == (200, {"unit": leader, "leader": True})
    assert fetch(other_front, "/phased-updates.json") == (200, '{"other": true}')


def test_the_re_implementation_reproduces_what_broke(tmp_path: Path) -> None:
    """With today's data (a unit without a port first; an IPv6 `<app>`), apache2's
    configtest fails as the issue reports: the re-implementation is faithful."""
    portless: Unit = ("phased-updater/0", {"private-address": "10.0.0.1"})
    other: Unit = ("other-app/0", {"private-address": "10.0.0.9", "port": "9000"})
    dropped = render_template(OTHER_TEMPLATE, CONFIG, get_reverseproxy_data([[portless], [other]]))
    ipv6: Unit = ("phased-updater/0", {"private-address": "::1", "port": "18080"})
    unbracketed = render_template(
        OTHER_TEMPLATE.replace("otherapp", "phasedupdater"),
        CONFIG,
        get_reverseproxy_data([[ipv6]]),
    )
    assert "ProxyPass / http:///" in dropped
    assert "ProxyPass / http://::1:18080/" in unbracketed

    for name, site, error in (
        ("dropped", dropped, "AH00526"),
        ("unbracketed", unbracketed, "Unable to parse URL"),
    ):
        apache = StockApache(tmp_path / name, [free_port("127.0.0.1")], {name: site})
        apache.install()
        check = apache.configtest()
        assert check.returncode != 0
        assert error in check.stderr, check.stderr
