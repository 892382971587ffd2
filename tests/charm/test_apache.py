"""website (http) and apache-vhost-config: the exact unit data apache2 receives."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import jinja2
import yaml
from ops import testing

from charm import PhasedUpdaterCharm
from tests.charm.conftest import unit_data
from tests.charm.fake_workload import FakeWorkload

# ops.testing's default network: every binding's address.
ADDRESS = "192.0.2.0"
JUJU_DEFAULTS = {"egress-subnets": ADDRESS, "ingress-address": ADDRESS, "private-address": ADDRESS}

TEMPLATE = """\
# Sent by the phased-updater charm over apache-vhost-config; apache2 renders it with Jinja2.
<IfModule !proxy_module>
    LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
</IfModule>
<IfModule !proxy_http_module>
    LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
</IfModule>

<VirtualHost *:80>
    ServerName {{ servername }}
    ProxyRequests Off
    ProxyPreserveHost On
    ProxyPass / http://{{ phasedupdater | default("192.0.2.0:8080") }}/
    ProxyPassReverse / http://{{ phasedupdater | default("192.0.2.0:8080") }}/
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


def test_non_leader_advertises_nothing(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    website = testing.Relation(
        "website",
        remote_app_name="apache2",
        local_unit_data={**JUJU_DEFAULTS, "port": "8080", "hostname": ADDRESS},
    )
    vhost = testing.Relation(
        "apache-vhost-config", remote_app_name="apache2", local_unit_data={"vhosts": "old"}
    )
    state = testing.State(leader=False, relations={website, vhost})

    out = ctx.run(ctx.on.relation_changed(website), state)

    assert unit_data(out, website) == JUJU_DEFAULTS
    assert "vhosts" not in unit_data(out, vhost)


def test_leader_sends_the_vhost_template(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")

    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))

    data = unit_data(out, vhost)
    assert set(data) - set(JUJU_DEFAULTS) == {"vhosts"}
    assert decode_vhosts(data["vhosts"]) == [("80", TEMPLATE)]


def test_template_renders_as_apache2_does(
    ctx: testing.Context[PhasedUpdaterCharm], workload: FakeWorkload
) -> None:
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")
    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))
    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])

    # With website: `<app>` is the advertising unit's host:port.
    with_website = jinja2.Template(source).render(
        servername="phasing.example.com",
        phasedupdater="10.0.0.7:8080",
        phasedupdater_port="8080",
        phasedupdater_hostname="10.0.0.7",
    )
    # Without it, or when apache2 met a port-less unit first: the leader's own address.
    alone = jinja2.Template(source).render(servername="phasing.example.com")

    assert "    ProxyPass / http://10.0.0.7:8080/\n" in with_website
    assert "    ServerName phasing.example.com\n" in with_website
    assert "    ProxyPass / http://192.0.2.0:8080/\n" in alone


def test_template_variable_follows_the_application_name(workload: FakeWorkload) -> None:
    ctx = testing.Context(PhasedUpdaterCharm, app_name="pu-staging")
    vhost = testing.Relation("apache-vhost-config", remote_app_name="apache2")

    out = ctx.run(ctx.on.relation_joined(vhost), testing.State(leader=True, relations={vhost}))

    [(_, source)] = decode_vhosts(unit_data(out, vhost)["vhosts"])
    assert '{{ pustaging | default("192.0.2.0:8080") }}' in source


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
