"""Deploy the charm with apache2 and smtp-integrator on a real Juju controller.

Needs a bootstrapped controller and charmcraft; run with `make integration`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from pytest_operator.plugin import OpsTest  # type: ignore[import-not-found]

APP = "phased-updater"
APACHE = "apache2"
SMTP = "smtp-integrator"
PROBLEM = "https://errors.ubuntu.com/problem/" + "0123456789" * 4


async def leader_unit(ops_test: OpsTest) -> Any:
    for unit in ops_test.model.applications[APP].units:
        if await unit.is_leader_from_status():
            return unit
    raise AssertionError(f"no leader among {APP} units")


async def run_action(unit: Any, name: str, **params: object) -> dict[str, str]:
    action = await unit.run_action(name, **params)
    action = await action.wait()
    assert action.status == "completed", action.results
    results: dict[str, str] = action.results
    return results


@pytest.mark.abort_on_fail
async def test_deploy_with_apache_and_smtp(ops_test: OpsTest) -> None:
    charm = await ops_test.build_charm(".")
    await asyncio.gather(
        ops_test.model.deploy(
            charm, application_name=APP, num_units=2, config={"step": 20, "interval": "1h"}
        ),
        ops_test.model.deploy(APACHE),
        ops_test.model.deploy(SMTP, config={"host": "smtp.example.com", "port": 25}),
    )
    await ops_test.model.integrate(f"{APACHE}:reverseproxy", f"{APP}:website")
    await ops_test.model.integrate(f"{APACHE}:vhost-config", f"{APP}:apache-vhost-config")
    await ops_test.model.integrate(f"{SMTP}:smtp", f"{APP}:smtp")
    await ops_test.model.wait_for_idle(apps=[APP, APACHE, SMTP], status="active", timeout=1800)

    for unit in ops_test.model.applications[APP].units:
        assert "email off" not in unit.workload_status_message
        assert "anonymous dry runs" in unit.workload_status_message


async def test_invalid_config_blocks_and_recovers(ops_test: OpsTest) -> None:
    application = ops_test.model.applications[APP]
    await application.set_config({"interval": "banana"})
    await ops_test.model.wait_for_idle(apps=[APP], status="blocked", timeout=600)
    assert "interval 'banana'" in application.units[0].workload_status_message

    await application.set_config({"interval": "1h"})
    await ops_test.model.wait_for_idle(apps=[APP], status="active", timeout=600)


async def test_add_override_reaches_every_unit(ops_test: OpsTest) -> None:
    leader = await leader_unit(ops_test)
    params = {
        "package": "openssl",
        "version": "3.0.13-0ubuntu3.5",
        "problem": PROBLEM,
        "by": "integration-test",
        "reason": "not a regression",
    }

    added = await run_action(leader, "add-override", **params)
    await ops_test.model.wait_for_idle(apps=[APP], status="active", timeout=600)

    assert added["added"] == f"openssl, 3.0.13-0ubuntu3.5, {PROBLEM}"
    for unit in ops_test.model.applications[APP].units:
        listed = await run_action(unit, "list-overrides")
        assert listed["overrides"] == added["added"]


async def test_report_through_apache(ops_test: OpsTest) -> None:
    leader = await leader_unit(ops_test)
    await run_action(leader, "run-now", **{"dry-run": True})
    status = await ops_test.model.get_status()
    apache_unit = next(iter(status.applications[APACHE].units.values()))
    address = apache_unit.public_address

    response = requests.get(f"http://{address}/phased-updates.json", timeout=30)

    assert response.status_code == 200
    assert response.json()["dry_run"] is True
