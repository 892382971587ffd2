"""The charm's vhost, rendered as the apache2 charm renders it, in a real Apache.

The unit data comes from the charm under ops.testing; the rendering follows apache2's
hooks (base64 decode, Jinja2, reverseproxy variables from the `website` unit data);
Debian's apache2 then proxies to a local report server and the test fetches through it.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ops import testing

import charm
from charm import PhasedUpdaterCharm
from tests.charm.fake_workload import FakeWorkload
from tests.functional.apache2_charm import get_reverseproxy_data

APACHE = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
REPORT = '{"generated": "2025-01-01T12:00:00Z", "dry_run": true, "packages": []}'
# The template's only port. The test cannot bind 80, so the rendered vhost is moved to
# the test's port: the single change between what apache2 would write and this test.
VHOST_LINE = "<VirtualHost *:80>"
LOCALHOST = "127.0.0.1"
READY_WITHIN = 20.0

pytestmark = pytest.mark.skipif(
    not Path(APACHE).exists(), reason="Debian's apache2 is missing: scripts/ensure-debs apache2"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(port: int, process: subprocess.Popen[bytes] | None = None) -> None:
    """Polls the port; fails at once if `process` exits, or after READY_WITHIN seconds."""
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            pass
        if process is not None:
            try:
                code = process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"process exited {code} before listening on {port}")
        else:
            threading.Event().wait(0.05)
    raise AssertionError(f"nothing listening on 127.0.0.1:{port} after {READY_WITHIN}s")


# -- the report server behind Apache -------------------------------------------------


def _static_app(root: Path) -> Any:
    def app(environ: Mapping[str, Any], start_response: Any) -> list[bytes]:
        name = environ["PATH_INFO"].lstrip("/") or "index.html"
        path = root / name
        if "/" in name or not path.is_file():
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [path.read_bytes()]

    return app


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[int]:
    """`phased-updater serve` once the engine has it; a static waitress app until then."""
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "phased-updates.json").write_text(REPORT)
    if importlib.util.find_spec("phased_updater.commands.serve") is not None:
        port = free_port()
        command = [sys.executable, "-m", "phased_updater.cli", "serve"]
        command += ["--report-dir", str(report_dir), "--bind", f"127.0.0.1:{port}"]
        process = subprocess.Popen(command)
        try:
            wait_until_listening(port, process)
            yield port
        finally:
            process.terminate()
            process.wait(timeout=10)
        return
    import waitress

    server = waitress.create_server(_static_app(report_dir), host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.close()


# -- what apache2 receives and renders -----------------------------------------------


def unit_data_from_charm(
    backend_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, str], dict[str, str]]:
    """The leader's website and apache-vhost-config unit data, from the charm itself.

    The unit's address is 127.0.0.1, as Juju would set it (private-address and the
    bindings' ingress address), so both apache2's variables and the charm's fallback
    point at the local backend.
    """
    monkeypatch.setattr(charm, "SystemWorkload", lambda layout: FakeWorkload(tmp_path / "unit"))
    juju_data = {
        "egress-subnets": "127.0.0.1/32",
        "ingress-address": LOCALHOST,
        "private-address": LOCALHOST,
    }
    website = testing.Relation("website", remote_app_name="apache2", local_unit_data=juju_data)
    vhost = testing.Relation(
        "apache-vhost-config", remote_app_name="apache2", local_unit_data=juju_data
    )
    networks = {
        testing.Network(
            endpoint,
            bind_addresses=[testing.BindAddress([testing.Address(LOCALHOST)])],
            ingress_addresses=[LOCALHOST],
        )
        for endpoint in ("website", "apache-vhost-config")
    }
    state = testing.State(
        leader=True,
        config={"report-port": backend_port},
        relations={website, vhost},
        networks=networks,
    )
    ctx = testing.Context(PhasedUpdaterCharm)
    out = ctx.run(ctx.on.config_changed(), state)
    found_website: Any = out.get_relation(website.id)
    found_vhost: Any = out.get_relation(vhost.id)
    return dict(found_website.local_unit_data), dict(found_vhost.local_unit_data)


def reverseproxy_variables(app_name: str, unit_data: Mapping[str, str]) -> dict[str, str]:
    """apache2's get_reverseproxy_data for one unit (apache2_charm.py)."""
    return get_reverseproxy_data([[(f"{app_name}/0", unit_data)]])


def render_vhosts(vhosts: str, variables: Mapping[str, str]) -> list[tuple[str, str]]:
    """apache2's update_vhost_config_relation + create_vhost, minus writing the file."""
    config = {"servername": "phasing.test"}
    return [
        (
            str(item["port"]),
            jinja2.Template(base64.b64decode(item["template"]).decode()).render(
                {**config, **variables}
            ),
        )
        for item in yaml.safe_load(vhosts)
    ]


# -- Apache ----------------------------------------------------------------------------


@pytest.fixture
def apache_root(tmp_path: Path) -> Path:
    root = tmp_path / "apache"
    for name in ("logs", "run", "sites"):
        (root / name).mkdir(parents=True)
    return root


def write_main_config(root: Path, port: int, *, enabled_proxy: bool) -> Path:
    """A self-contained server: our ServerRoot, a free port, only the modules it needs.

    Without `enabled_proxy` (apache2's enable_modules), the vhost must load proxy,
    proxy_http, filter and deflate itself; with it, the vhost must not load them a
    second time.
    """
    user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
    proxy = (
        f"LoadModule proxy_module {MODULES}/mod_proxy.so\n"
        f"LoadModule proxy_http_module {MODULES}/mod_proxy_http.so\n"
        # Debian enables these by default: the vhost must not load them again either.
        f"LoadModule filter_module {MODULES}/mod_filter.so\n"
        f"LoadModule deflate_module {MODULES}/mod_deflate.so\n"
        if enabled_proxy
        else ""
    )
    config = root / "apache2.conf"
    config.write_text(
        f'ServerRoot "{root}"\n'
        f'DefaultRuntimeDir "{root}/run"\n'
        f'PidFile "{root}/run/apache2.pid"\n'
        f'ErrorLog "{root}/logs/error.log"\n'
        f"Define APACHE_LOG_DIR {root}/logs\n"
        "LogLevel warn\n"
        f"{user}"
        f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n"
        f"LoadModule authz_core_module {MODULES}/mod_authz_core.so\n"
        f"{proxy}"
        "ServerName localhost\n"
        f"Listen 127.0.0.1:{port}\n"
        f'IncludeOptional "{root}/sites/*.conf"\n'
    )
    return config


@pytest.fixture
def run_apache(apache_root: Path) -> Iterator[Any]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(site: str, *, enabled_proxy: bool = False) -> int:
        port = free_port()
        (apache_root / "sites" / "phased-updater.conf").write_text(
            site.replace(VHOST_LINE, f"<VirtualHost *:{port}>")
        )
        config = write_main_config(apache_root, port, enabled_proxy=enabled_proxy)
        check = subprocess.run(
            [APACHE, "-f", str(config), "-t"], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stderr
        # "module ... is already loaded" would mean the vhost's <IfModule> guard failed.
        assert "already loaded" not in check.stderr, check.stderr
        process = subprocess.Popen([APACHE, "-f", str(config), "-DFOREGROUND"])
        processes.append(process)
        wait_until_listening(port, process)
        return port

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    log = apache_root / "logs" / "error.log"
    if log.exists():
        print(log.read_text())


def fetch(port: int, path: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return response.status, response.read()


def fetch_gzipped(port: int, path: str) -> tuple[str | None, bytes]:
    """The Content-Encoding and the body, decoded once, of a GET that accepts gzip."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Accept-Encoding": "gzip"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        encoding = response.headers.get("Content-Encoding")
        body = response.read()
    return encoding, gzip.decompress(body) if encoding == "gzip" else body


@pytest.mark.parametrize("enabled_proxy", [False, True], ids=["vhost-loads-proxy", "enabled"])
def test_the_report_through_apache_with_both_integrations(
    backend: int,
    run_apache: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    enabled_proxy: bool,
) -> None:
    website, vhost = unit_data_from_charm(backend, monkeypatch, tmp_path)
    [(vhost_port, site)] = render_vhosts(
        vhost["vhosts"], reverseproxy_variables("phased-updater", website)
    )
    assert vhost_port == "80"
    assert site.count(VHOST_LINE) == 1
    assert f"    ProxyPass / http://127.0.0.1:{backend}/\n" in site

    port = run_apache(site, enabled_proxy=enabled_proxy)

    status, body = fetch(port, "/phased-updates.json")
    assert (status, body.decode()) == (200, REPORT)
    # Compressed once on the way (by the server or by Apache), never twice.
    assert fetch_gzipped(port, "/phased-updates.json") == ("gzip", REPORT.encode())


@pytest.mark.parametrize("enabled_modules", [False, True], ids=["vhost-loads-deflate", "enabled"])
def test_apache_compresses_what_the_backend_sends_uncompressed(
    run_apache: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    enabled_modules: bool,
) -> None:
    import waitress

    report_dir = tmp_path / "plain"
    report_dir.mkdir()
    (report_dir / "phased-updates.json").write_text(REPORT)
    server = waitress.create_server(_static_app(report_dir), host=LOCALHOST, port=0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        website, vhost = unit_data_from_charm(int(server.effective_port), monkeypatch, tmp_path)
        [(_, site)] = render_vhosts(
            vhost["vhosts"], reverseproxy_variables("phased-updater", website)
        )
        port = run_apache(site, enabled_proxy=enabled_modules)

        assert fetch_gzipped(port, "/phased-updates.json") == ("gzip", REPORT.encode())
        # A client that does not ask for it gets the body as it is.
        assert fetch(port, "/phased-updates.json") == (200, REPORT.encode())
    finally:
        server.close()


def test_the_report_through_apache_with_vhost_config_alone(
    backend: int, run_apache: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, vhost = unit_data_from_charm(backend, monkeypatch, tmp_path)
    # No reverseproxy variables: the template's fallback, the leader's own address.
    [(_, site)] = render_vhosts(vhost["vhosts"], {})

    port = run_apache(site)

    status, body = fetch(port, "/phased-updates.json")
    assert (status, body.decode()) == (200, REPORT)
