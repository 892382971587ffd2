"""website (http) and apache-vhost-config: the exact unit data apache2 receives."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path
from typing import Any

import jinja2
import yaml
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.conftest import PEER, unit_data
from tests.charm.fake_workload import FakeWorkload

# ops.testing's default network: every binding's address.
ADDRESS = "192.0.2.0"
JUJU_DEFAULTS = {"egress-subnets": ADDRESS, "ingress-address": ADDRESS, "private-address": ADDRESS}

TEMPLATE = """\
# Sent by the phased-updater leader over apache-vhost-config; apache2 renders it with Jinja2.
<IfModule !proxy_module>
    LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
</IfModule>
<IfModule !proxy_http_module>
    LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
</IfModule>
<IfModule !filter_module>
    LoadModule filter_module /usr/lib/apache2/modules/mod_filter.so
</IfModule>
<IfModule !deflate_module>
    LoadModule deflate_module /usr/lib/apache2/modules/mod_deflate.so
</IfModule>

<VirtualHost *:80>
    ServerName {{ servername }}
    ProxyRequests Off
    ProxyPreserveHost On
    ProxyPass / http://192.0.2.0:8080/
    ProxyPassReverse / http://192.0.2.0:8080/
    AddOutputFilterByType DEFLATE text/html application/json text/css application/javascript
    ErrorLog ${APACHE_LOG_DIR}/phasedupdater-error.log
    CustomLog ${APACHE_LOG_DIR}/phasedupdater-access.log combined
</VirtualHost>
"""


def decode_vhosts(value: str) -> list[tuple[str, str]]:
    """As apache2 reads it: YAML list of {port, template(base64)}."""
    return [
        (item["port"], base64.b64decode(item["template"]).decode())
        for item in yaml.safe_load(value)
    ]


def test_leader_advertises_port_and_hostname(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    website = testing.Relation("website", remote_app_name="apache2")

    out = ctx.run(ctx.on.relation_joined(website), testing.State(leader=True, relations={website}))

    assert unit_data(out, website) == {
        **JUJU_DEFAULTS,
        "port": "8080",
        "hostname": ADDRESS,
    }


def test_report_port_change_is_advertised(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    website = testing.Relation("website", remote_app_name="apache2")
    state = testing.State(leader=True, relations={website}, config={"report-port": 9000})

    out = ctx.run(ctx.on.config_changed(), state)

    assert unit_data(out, website)["port"] == "9000"


def test_non_leader_advertises_its_port_but_sends_no_vhost(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # Issue 17, 1: apache2 stops reading reverseproxy units at the first one without
    # a port, dropping every application related after this one; so every unit
    # publishes one. Only the leader's vhost names a backend.
    website = testing.Relation("website", remote_app_name="apache2")
    vhost = testing.Relation(
        "apache-vhost-config", remote_app_name="apache2", local_unit_data={"vhosts": "old"}
    )
    state = testing.State(leader=False, relations={website, vhost})

    out = ctx.run(ctx.on.relation_changed(website, remote_unit=0), state)

    assert unit_data(out, website) == {**JUJU_DEFAULTS, "port": "8080", "hostname": ADDRESS}
    assert "vhosts" not in unit_data(out, vhost)


def test_leader_sends_the_vhost_template(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")

    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))

    data = unit_data(out, vhost)
    assert set(data) - set(JUJU_DEFAULTS) == {"vhosts"}
    assert decode_vhosts(data["vhosts"]) == [("80", TEMPLATE)]


def test_template_points_at_the_leader_whatever_apache2s_variable_holds(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # Issues 17, 2 and 8: `<app>` is the first unit's host:port (maybe a former
    # leader), unbracketed for IPv6; the vhost never uses it.
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")
    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))
    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])

    for variables in (
        {"phasedupdater": "10.0.0.7:8080", "phasedupdater_port": "8080"},
        {"phasedupdater": "fd00::7:8080", "phasedupdater_port": "8080"},
        {},
    ):
        rendered = jinja2.Template(source).render(servername="phasing.example.com", **variables)
        assert "    ProxyPass / http://192.0.2.0:8080/\n" in rendered
        assert "    ServerName phasing.example.com\n" in rendered


def test_an_ipv6_leader_sends_a_bracketed_backend(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    website = testing.Relation("website", remote_app_name="apache2")
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")
    networks = {
        testing.Network(
            endpoint,
            bind_addresses=[testing.BindAddress([testing.Address("fd00::7")])],
            ingress_addresses=["fd00::7"],
        )
        for endpoint in ("website", "apache-vhost-config")
    }
    state = testing.State(leader=True, relations={website, vhost}, networks=networks)

    out = ctx.run(ctx.on.config_changed(), state)

    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])
    assert "    ProxyPass / http://[fd00::7]:8080/\n" in source
    assert unit_data(out, website)["hostname"] == "fd00::7"


def test_leader_elected_resends_the_vhost_and_wakes_the_other_units(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    # Issue 17, 8: the new leader sends its vhost in leader-elected itself, and names
    # itself in the peer data, which runs relation-changed on every other unit.
    website = testing.Relation("website", remote_app_name="apache2")
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")
    peers = testing.PeerRelation(PEER, local_app_data={"leader-unit": "phased-updater/1"})
    state = testing.State(leader=True, relations={website, vhost, peers})

    out = ctx.run(ctx.on.leader_elected(), state)

    assert unit_data(out, website)["port"] == "8080"
    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])
    assert "http://192.0.2.0:8080/" in source
    found: Any = out.get_relation(peers.id)
    assert found.local_app_data["leader-unit"] == "phased-updater/0"


def test_the_former_leader_drops_its_vhost_when_the_new_one_names_itself(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation(
        "apache-vhost-config", remote_app_name="apache2", local_unit_data={"vhosts": "stale"}
    )
    peers = testing.PeerRelation(PEER, local_app_data={"leader-unit": "phased-updater/1"})
    state = testing.State(leader=False, relations={vhost, peers})

    out = ctx.run(ctx.on.relation_changed(peers, remote_unit=1), state)

    assert "vhosts" not in unit_data(out, vhost)
    assert out.unit_status.message.startswith(
        "standby: the leader (phased-updater/1) runs the cycles"
    )


def test_template_variable_follows_the_application_name(workload: FakeWorkload) -> None:
    ctx = testing.Context(PhasedUpdaterCharm, app_name="pu-staging")
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")

    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))

    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])
    assert "ErrorLog ${APACHE_LOG_DIR}/pustaging-error.log" in source


def test_apache_servername_becomes_the_report_url(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation(
        "apache-vhost-config",
        remote_app_name="apache2",
        remote_units_data={0: {"servername": "phasing.example.com"}},
    )

    ctx.run(ctx.on.relation_changed(vhost), testing.State(leader=True, relations={vhost}))

    config = tomllib.loads(workload.files[Path("/etc/phased-updater/config.toml")].content)
    assert config["report_url"] == "http://phasing.example.com/"
