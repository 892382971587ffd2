"""The Apache vhost this charm sends to apache2 over apache-vhost-config.

apache2 base64-decodes the template, renders it with Jinja2 (its own config values
plus the reverseproxy variables of every application on `website`), writes it to
sites-available and reloads.

Why the template names the leader itself, and never apache2's `<app>` variable:

- apache2's `get_reverseproxy_data` stops reading at the first related unit without a
  `port`, which drops the variables of every application related after this one. So
  every unit publishes its `port` on `website` (see `website_data`), leader or not.
- With every unit publishing, `<app>` is the `host:port` of whichever unit apache2
  reads first, not of the leader, which alone holds the current report; after a
  change of leader it is still the old one until that unit's next hook.
- apache2 builds `<app>` without brackets, so for an IPv6 unit it is `::1:8080`,
  which is no URL authority ("ProxyPass Unable to parse URL").

So the leader sends its own address, bracketed when it is IPv6, in the template, and
re-sends it on `leader-elected`; the template is correct whatever `<app>` holds.
"""

from __future__ import annotations

import base64
import ipaddress
import re

import yaml

VHOST_PORT = "80"
# What Apache compresses on the way out: the report's page, its JSON and any style or
# script beside them.
COMPRESSED_TYPES = "text/html application/json text/css application/javascript"


def template_variable(app_name: str) -> str:
    """apache2's name for the reverseproxy variables of application `app_name`."""
    return re.sub(r"[^a-zA-Z0-9_]", "", app_name)


def url_host(host: str) -> str:
    """`host` as it goes into a URL: an IPv6 address in brackets."""
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    return f"[{host}]" if is_v6 else host


def backend_address(host: str, port: int) -> str:
    """`host:port`, bracketing an IPv6 address as a URL needs."""
    return f"{url_host(host)}:{port}"


def website_data(host: str, port: int) -> dict[str, str]:
    """What every unit publishes on `website` (http): its own port and address."""
    return {"port": str(port), "hostname": host}


def render_template(app_name: str, leader_backend: str) -> str:
    """The Jinja2 source of the vhost, proxying to `leader_backend` (`host:port`)."""
    variable = template_variable(app_name)
    # The proxy modules are loaded here when apache2's enable_modules lacks them, so
    # `juju integrate` is all it takes. Sites are included after mods-enabled, so
    # <IfModule> sees a module loaded by a2enmod and skips the second load. Likewise
    # deflate (and filter, which provides AddOutputFilterByType): the report is some
    # 9 MB of HTML at 2,000 updates and a fortieth of that compressed. What the report
    # server sent gzipped already, mod_deflate passes on as it is.
    return f"""\
# Sent by the {app_name} leader over apache-vhost-config; apache2 renders it with Jinja2.
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

<VirtualHost *:{VHOST_PORT}>
    ServerName {{{{ servername }}}}
    ProxyRequests Off
    ProxyPreserveHost On
    ProxyPass / http://{leader_backend}/
    ProxyPassReverse / http://{leader_backend}/
    AddOutputFilterByType DEFLATE {COMPRESSED_TYPES}
    ErrorLog ${{APACHE_LOG_DIR}}/{variable}-error.log
    CustomLog ${{APACHE_LOG_DIR}}/{variable}-access.log combined
</VirtualHost>
"""


def vhosts_value(app_name: str, leader_backend: str) -> str:
    """The `vhosts` unit-data value: a YAML list of {port, template (base64)}."""
    template = render_template(app_name, leader_backend)
    encoded = base64.b64encode(template.encode("utf-8")).decode("ascii")
    return yaml.safe_dump([{"port": VHOST_PORT, "template": encoded}], default_flow_style=False)
