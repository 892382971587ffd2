"""The Error Tracker double, driven with requests as the engine drives the real service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.doubles.errortracker import (
    FAILURE_MODES,
    NEW_BUCKETS,
    RATE_OF_CRASHES,
    ErrorTrackerDouble,
)
from tests.doubles.scenarios import CRASHING_SIGNATURE, CRASHING_UPDATE, demo_errors

BUCKET_PARAMS = {
    "format": "json",
    "package": "hello",
    "previous_version": "2.10-3",
    "new_version": "2.10-3ubuntu0.1",
}
RATE_PARAMS = {
    "format": "json",
    "exclude_proposed": "True",
    "release": "Ubuntu 24.04",
    "package": "hello",
    "old_version": "2.10-3",
    "new_version": "2.10-3ubuntu0.1",
    "phased_update_percentage": "10",
    "date": "2025-03-07",
}


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False  # never route loopback traffic through an environment proxy
    yield session
    session.close()


def get(
    http: requests.Session, et: ErrorTrackerDouble, endpoint: str, params: dict[str, str]
) -> requests.Response:
    return http.get(f"{et.base_url}{endpoint}/", params=params, timeout=5)


def objects(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    document = response.json()
    assert set(document) == {"meta", "objects"}
    assert document["meta"]["total_count"] == len(document["objects"])
    result: list[dict[str, Any]] = document["objects"]
    return result


def test_default_answers(http: requests.Session, errortracker: ErrorTrackerDouble) -> None:
    assert errortracker.base_url.startswith("http://127.0.0.1:")
    assert errortracker.base_url.endswith("/api/1.0/")
    assert objects(get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS)) == []
    assert objects(get(http, errortracker, RATE_OF_CRASHES, RATE_PARAMS)) == [{"increase": False}]
    assert [r.path for r in errortracker.requests] == [
        f"/api/1.0/{NEW_BUCKETS}/",
        f"/api/1.0/{RATE_OF_CRASHES}/",
    ]
    assert errortracker.requests[1].query == RATE_PARAMS


def test_configured_buckets_and_rates(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    bucket: dict[str, object] = {
        "function": "main",
        "web_link": "https://errors.ubuntu.com/problem/abc",
    }
    errortracker.new_buckets[("hello", "2.10-3", "2.10-3ubuntu0.1")] = [bucket]
    rate: dict[str, object] = {
        "increase": True,
        "difference": 4.2,
        "web_link": "https://errors.ubuntu.com/x",
    }
    errortracker.rates[("hello", "2.10-3", "2.10-3ubuntu0.1")] = rate
    assert objects(get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS)) == [bucket]
    assert objects(get(http, errortracker, RATE_OF_CRASHES, RATE_PARAMS)) == [rate]
    other = {**BUCKET_PARAMS, "package": "libfoo"}
    assert objects(get(http, errortracker, NEW_BUCKETS, other)) == []


def test_demo_errors_register_the_hostile_signature(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    demo_errors(errortracker)
    params = {
        "format": "json",
        "package": CRASHING_UPDATE.source,
        "previous_version": CRASHING_UPDATE.previous_version,
        "new_version": CRASHING_UPDATE.version,
    }
    (bucket,) = objects(get(http, errortracker, NEW_BUCKETS, params))
    assert bucket["function"] == CRASHING_SIGNATURE
    assert "<script>" in bucket["function"]


def test_unknown_version_is_404_with_the_services_message(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    errortracker.known_versions = {("hello", "2.10-3")}
    response = get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS)
    assert response.status_code == 404
    assert "hello version 2.10-3ubuntu0.1 was not found in Launchpad." in response.text
    errortracker.known_versions.add(("hello", "2.10-3ubuntu0.1"))
    assert objects(get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS)) == []


@pytest.mark.parametrize(
    ("endpoint", "params", "problem"),
    [
        (NEW_BUCKETS, {**BUCKET_PARAMS, "format": ""}, "format"),
        (NEW_BUCKETS, {k: v for k, v in BUCKET_PARAMS.items() if k != "new_version"}, "new_ver"),
        (NEW_BUCKETS, {**BUCKET_PARAMS, "format": "xml"}, "format"),
        (RATE_OF_CRASHES, {**RATE_PARAMS, "release": "jammy"}, "release"),
        (RATE_OF_CRASHES, {**RATE_PARAMS, "phased_update_percentage": "ten"}, "percentage"),
        (RATE_OF_CRASHES, {**RATE_PARAMS, "date": "2025-03-07T00:00"}, "date"),
        (RATE_OF_CRASHES, {k: v for k, v in RATE_PARAMS.items() if k != "date"}, "date"),
    ],
)
def test_client_mistakes_are_400(
    http: requests.Session,
    errortracker: ErrorTrackerDouble,
    endpoint: str,
    params: dict[str, str],
    problem: str,
) -> None:
    response = get(http, errortracker, endpoint, params)
    assert response.status_code == 400
    assert problem in response.json()["error_message"]


def test_missing_trailing_slash_redirects(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    url = f"{errortracker.base_url}{RATE_OF_CRASHES}"
    response = http.get(url, params=RATE_PARAMS, timeout=5)
    assert [r.status_code for r in response.history] == [301]
    assert objects(response) == [{"increase": False}]


def test_trickle_sends_a_valid_answer_a_byte_at_a_time(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    errortracker.failures[(NEW_BUCKETS, "hello")] = "trickle"
    errortracker.trickle_delay = 0.001
    response = get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS)
    assert response.status_code == 200 and response.json()["objects"] == []
    [answer] = errortracker.trickled
    assert answer.sent == len(answer.body) == len(response.content)


@pytest.mark.parametrize("endpoint", [NEW_BUCKETS, RATE_OF_CRASHES])
@pytest.mark.parametrize("mode", [m for m in FAILURE_MODES if m not in ("timeout", "trickle")])
def test_failure_modes(
    http: requests.Session, errortracker: ErrorTrackerDouble, endpoint: str, mode: str
) -> None:
    errortracker.failures[(endpoint, "hello")] = mode
    params = BUCKET_PARAMS if endpoint == NEW_BUCKETS else RATE_PARAMS
    response = get(http, errortracker, endpoint, params)
    if mode in ("500", "404"):
        assert response.status_code == int(mode)
        return
    assert response.status_code == 200
    if mode == "html-200":
        assert response.headers["Content-Type"].startswith("text/html")
        with pytest.raises(requests.JSONDecodeError):
            response.json()
        return
    if mode == "bad-json":
        with pytest.raises(requests.JSONDecodeError):
            response.json()
        return
    found = response.json()["objects"]
    if mode == "empty-objects":
        assert found == []
        return
    (obj,) = found
    if mode == "missing-fields":
        assert "web_link" not in obj if endpoint == NEW_BUCKETS else "increase" not in obj
    else:
        assert mode == "wrong-types"
        key = "function" if endpoint == NEW_BUCKETS else "increase"
        assert not isinstance(obj[key], str if endpoint == NEW_BUCKETS else bool)


def test_failures_affect_only_their_package_unless_wildcarded(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    errortracker.failures[(NEW_BUCKETS, "libfoo")] = "500"
    assert get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS).status_code == 200
    errortracker.failures[(NEW_BUCKETS, "*")] = "500"
    assert get(http, errortracker, NEW_BUCKETS, BUCKET_PARAMS).status_code == 500
    assert get(http, errortracker, RATE_OF_CRASHES, RATE_PARAMS).status_code == 200


def test_timeout_mode_outlasts_the_clients_timeout(
    http: requests.Session, errortracker: ErrorTrackerDouble
) -> None:
    errortracker.timeout_delay = 0.5
    errortracker.failures[(RATE_OF_CRASHES, "hello")] = "timeout"
    with pytest.raises(requests.Timeout):
        http.get(f"{errortracker.base_url}{RATE_OF_CRASHES}/", params=RATE_PARAMS, timeout=0.1)
