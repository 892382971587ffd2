"""The Apache vhost this charm sends to apache2 over apache-vhost-config.

apache2 base64-decodes the template, renders it with Jinja2 (its own config values
plus the reverseproxy variables, where `<app>` is `host:port` of the unit that
advertises a port on `website`), writes it to sites-available and reloads.
"""

from __future__ import annotations

import base64
import ipaddress
import re

import yaml

VHOST_PORT = "80"


def template_variable(app_name: str) -> str:
    """apache2's name for the reverseproxy `host:port` variable of application `app_name`."""
    return re.sub(r"[^a-zA-Z0-9_]", "", app_name)


def backend_address(host: str, port: int) -> str:
    """`host:port`, bracketing an IPv6 address as a URL needs."""
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"


def render_template(app_name: str, fallback_backend: str) -> str:
    """The Jinja2 source of the vhost.

    `fallback_backend` is the sending leader's own `host:port`. apache2 stops reading
    reverseproxy units at the first one without a `port`, and only the leader sets a
    port, so the variable can be missing; and without the website integration it
    always is. The fallback keeps the vhost pointed at the leader either way.
    """
    variable = template_variable(app_name)
    backend = f'{{{{ {variable} | default("{fallback_backend}") }}}}'
    # The proxy modules are loaded here when apache2's enable_modules lacks them, so
    # `juju integrate` is all it takes. Sites are included after mods-enabled, so
    # <IfModule> sees a module loaded by a2enmod and skips the second load.
    return f"""\
# Sent by the {app_name} charm over apache-vhost-config; apache2 renders it with Jinja2.
<IfModule !proxy_module>
    LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
</IfModule>
<IfModule !proxy_http_module>
    LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http.so
</IfModule>

<VirtualHost *:{VHOST_PORT}>
    ServerName {{{{ servername }}}}
    ProxyRequests Off
    ProxyPreserveHost On
    ProxyPass / http://{backend}/
    ProxyPassReverse / http://{backend}/
    ErrorLog ${{APACHE_LOG_DIR}}/{variable}-error.log
    CustomLog ${{APACHE_LOG_DIR}}/{variable}-access.log combined
</VirtualHost>
"""


def vhosts_value(app_name: str, fallback_backend: str) -> str:
    """The `vhosts` unit-data value: a YAML list of {port, template (base64)}."""
    template = render_template(app_name, fallback_backend)
    encoded = base64.b64encode(template.encode("utf-8")).decode("ascii")
    return yaml.safe_dump([{"port": VHOST_PORT, "template": encoded}], default_flow_style=False)
