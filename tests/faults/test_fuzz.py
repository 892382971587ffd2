"""Bad input, fuzzed: every parser of outside input either accepts it or rejects it with
the exception it documents, whose message names the input (value, key, line or file)
and the reason. Nothing else escapes: no TypeError, KeyError, RecursionError...

Inputs: the overrides file, the TOML config, durations, Debian versions and names,
Error Tracker answers, halts files, the charm's action parameters and launchpadlib
credentials files.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from action_params import HaltParams, OverrideParams, ResumeParams
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from phased_updater import config
from phased_updater.commands.options import check_credentials_file as load_credentials
from phased_updater.config import KEYS, load_settings
from phased_updater.debian import (
    check_source_name,
    check_version,
    compare_versions,
    is_source_name,
    is_version,
)
from phased_updater.duration import MAX_DURATION, format_duration, parse_duration
from phased_updater.errors import UsageError
from phased_updater.halts import load_halts, parse_halts
from phased_updater.overrides import Override, Overrides, thing_error
from phased_updater.sources.errortracker import (
    NEW_BUCKETS,
    RATE_OF_CRASHES,
    ErrorTrackerFailure,
    new_crash_problems,
    objects_of,
    rate_problem,
)

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Debian-looking pieces, so that fuzzing also reaches the paths past the first check.
version_like = st.from_regex(
    r"\A(?:[0-9]{1,2}:)?[0-9][A-Za-z0-9.+~]{0,8}(?:-[A-Za-z0-9.+~]{1,8})?\Z", fullmatch=True
)
name_like = st.from_regex(r"\A[a-z0-9][a-z0-9+.-]{1,12}\Z", fullmatch=True)
any_text = st.text(max_size=60)
line_text = st.text(alphabet=st.characters(exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85"))


def raises_only(
    expected: type[Exception] | tuple[type[Exception], ...], call: Callable[[], Any]
) -> Exception | None:
    """Call; return the expected exception it raised, or None. Anything else fails."""
    try:
        call()
    except expected as error:
        assert str(error).strip(), "a rejection without a reason"
        assert "\n" not in str(error).strip(), f"a rejection on several lines: {error}"
        return error
    return None


# -- overrides file ------------------------------------------------------------


override_line = st.one_of(
    line_text,
    st.builds(
        lambda s, v, t: f"{s}, {v}, {t}",
        name_like | any_text,
        version_like | any_text,
        st.sampled_from(
            [
                "increased-rate",
                "https://errors.ubuntu.com/problem/" + "ab" * 20,
                "https://errors.ubuntu.com/bucket/?id=f",
                "https://errors.ubuntu.com/problem/ab",
            ]
        )
        | any_text,
    ),
)


@FUZZ
@given(st.lists(override_line, max_size=8))
def test_overrides_never_crash_and_name_each_bad_line(lines: list[str]) -> None:
    text = "\n".join(lines)
    overrides = Overrides.parse(text)
    for error in overrides.errors:
        assert f"line {error.line}:" in str(error)
        assert repr(error.text) in str(error)
    for item in overrides.read:
        assert isinstance(item, Override)
        assert is_source_name(item.source) and is_version(item.version)
        assert thing_error(item.thing) is None
    meaningful = [
        line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    assert len(overrides.read) + len(overrides.errors) == len(meaningful)
    assert len(overrides.items) + len(overrides.duplicates) == len(overrides.read)


# -- TOML config ---------------------------------------------------------------


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = (
        f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or c in '"\\' else c for c in text
    )
    return '"' + "".join(escaped) + '"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | any_text
    | st.sampled_from(["6h", "90d", "1m", "0s", "-1h", "http://x/", "true", "4", "0.5", ""])
)
toml_values = toml_scalars | st.lists(toml_scalars, max_size=3)
config_keys = st.sampled_from(sorted(KEYS)) | st.from_regex(r"\A[a-z_]{1,12}\Z", fullmatch=True)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(st.dictionaries(config_keys, toml_values, max_size=5))
@example({"credentials": "~no-such-user-0/credentials"})  # expanduser raised RuntimeError
@example({"errors_timeout": float("nan"), "step": "7"})
def test_config_values_are_accepted_or_refused_by_name(
    scratch: Path, values: dict[str, Any]
) -> None:
    path = scratch / "config.toml"
    path.write_text("".join(f"{k} = {toml_value(v)}\n" for k, v in values.items()), "utf-8")
    error = raises_only(UsageError, lambda: load_settings(argparse.Namespace(config=str(path))))
    if error is not None:
        message = str(error)
        unknown = sorted(set(values) - KEYS)
        if unknown:
            assert all(key in message for key in unknown), message
        else:
            assert any(key in message for key in values), message


# The speed classes, sources and groups tables, as the TOML parser hands them over.
table_names = st.sampled_from(["slow", "medium", "normal", "glacial", "grub2", "boot", "B!"])
table_entries = (
    toml_values
    | st.dictionaries(st.sampled_from(["step", "interval", "sources", "class", "x"]), toml_values)
    | st.lists(st.sampled_from(["grub2", "shim-signed", "Bad!", "grub2"]), max_size=3)
)


@FUZZ
@given(
    st.sampled_from(["classes", "sources", "groups"]),
    st.dictionaries(table_names, table_entries, max_size=3) | toml_values,
)
def test_class_and_group_tables_are_accepted_or_refused_naming_the_entry(
    table: str, value: Any
) -> None:
    def load() -> Any:
        return config._convert(table, value)

    error = raises_only(UsageError, load)
    if error is not None:
        assert str(error).startswith(table), str(error)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
@example(b"\xff\xfe")
@example(b"step = ")
@example(b"[" * 5000)
def test_any_config_file_is_read_or_refused_naming_the_file(scratch: Path, data: bytes) -> None:
    path = scratch / "bytes.toml"
    path.write_bytes(data)
    error = raises_only(UsageError, lambda: load_settings(argparse.Namespace(config=str(path))))
    if error is not None and "--config" in str(error):
        assert str(path) in str(error)


# -- durations, names and versions ---------------------------------------------


@FUZZ
@given(any_text | st.from_regex(r"\A[0-9]{0,14}[wdhmsx]{0,2}(?:[0-9]{0,3}[dhms])?\Z"))
def test_durations_parse_or_name_the_text(text: str) -> None:
    error = raises_only(ValueError, lambda: parse_duration(text))
    if error is not None:
        assert repr(text) in str(error)
    else:
        parsed = parse_duration(text)
        assert 0 < parsed.total_seconds() <= MAX_DURATION.total_seconds()
        assert parse_duration(format_duration(parsed)) == parsed


@FUZZ
@given(any_text | version_like | name_like)
def test_names_and_versions_are_checked_without_crashing(text: str) -> None:
    for check in (check_version, check_source_name):
        error = raises_only(ValueError, lambda check=check: check(text))  # type: ignore[misc]
        if error is not None:
            assert repr(text) in str(error)


@FUZZ
@given(version_like, version_like, version_like)
def test_version_order_is_a_total_order(a: str, b: str, c: str) -> None:
    assume(is_version(a) and is_version(b) and is_version(c))

    def sign(x: str, y: str) -> int:
        result = compare_versions(x, y)
        return (result > 0) - (result < 0)

    assert sign(a, a) == 0
    assert sign(a, b) == -sign(b, a)
    if sign(a, b) <= 0 and sign(b, c) <= 0:
        assert sign(a, c) <= 0


# -- Error Tracker answers -------------------------------------------------------

rate_fields = st.fixed_dictionaries(
    {},
    optional={
        "increase": st.booleans() | json_values,
        "difference": st.floats() | st.integers() | json_values,
        "web_link": st.sampled_from(["https://errors.ubuntu.com/?p=x", "http://", "x"]) | any_text,
        "previous_average": st.none() | st.floats() | json_values,
        "previous_period_in_days": st.integers() | json_values,
    },
)
bucket_fields = st.fixed_dictionaries(
    {},
    optional={
        "function": any_text | json_values,
        "web_link": st.sampled_from(["https://errors.ubuntu.com/problem/ab", "https://a b/"])
        | any_text
        | json_values,
    },
)


def tastypie(objects: Any) -> str:
    return json.dumps({"meta": {"limit": 20}, "objects": objects})


@FUZZ
@given(
    any_text
    | json_values.map(json.dumps)
    | st.lists(bucket_fields | json_values, max_size=3).map(tastypie)
    | st.lists(rate_fields | json_values, min_size=1, max_size=2).map(tastypie)
)
@example("[" * 100_000)
@example('{"objects": [{"increase": true, "difference": NaN, "web_link": "https://e/"}]}')
def test_error_tracker_answers_are_used_or_refused_as_a_failure(text: str) -> None:
    for endpoint, parse in ((NEW_BUCKETS, new_crash_problems), (RATE_OF_CRASHES, rate_problem)):
        try:
            found = parse(objects_of(endpoint, text))
        except ErrorTrackerFailure as failure:
            assert str(failure).startswith(f"{endpoint}: ")
            continue
        problems = found if isinstance(found, list) else [found] if found else []
        for problem in problems:
            # What is kept is fit for the report and for a mail body.
            assert re.fullmatch(r"https?://[^\s\x00-\x20\x7f]+", problem.url)
            json.dumps(problem.to_json(), allow_nan=False)


# -- halts file --------------------------------------------------------------------

halt_entry = st.fixed_dictionaries(
    {},
    optional={
        key: any_text | json_values for key in ("series", "source", "version", "reason", "by", "at")
    },
)


@FUZZ
@given(
    any_text
    | json_values.map(json.dumps)
    | st.lists(halt_entry | json_values, max_size=3).map(lambda h: json.dumps({"halts": h}))
)
@example('{"halts": [{"series": "a", "source": "aa", "version": "1", "reason": "r",'
         ' "by": "b", "at": "2020-01-01T00:00:00+99:00"}]}')  # fmt: skip
def test_halts_files_are_read_or_refused_naming_the_file(scratch: Path, text: str) -> None:
    raises_only((ValueError, UnicodeDecodeError), lambda: parse_halts(text))
    path = scratch / "halts.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    error = raises_only(UsageError, lambda: load_halts(path))
    if error is not None:
        assert str(path) in str(error)


def test_a_deeply_nested_halts_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "halts.json"
    path.write_text("[" * 100_000)
    with pytest.raises(UsageError, match=re.escape(str(path))):
        load_halts(path)


# -- the charm's action parameters ---------------------------------------------------


@FUZZ
@given(
    source=name_like | any_text,
    version=version_like | any_text,
    series=st.sampled_from(["noble", "jammy"]) | any_text,
    problem=st.sampled_from(
        ["increased-rate", f"https://errors.ubuntu.com/problem/{'a' * 40}", "https://e/bucket/?id="]
    )
    | any_text,
    reason=any_text,
)
def test_action_parameters_are_accepted_or_refused_by_name(
    source: str, version: str, series: str, problem: str, reason: str
) -> None:
    cases: list[tuple[Callable[[], object], dict[str, str]]] = [
        (
            lambda: OverrideParams(source, version, problem, reason, reason),
            {
                "source": source,
                "version": version,
                "problem": problem,
                "by": reason,
                "reason": reason,
            },
        ),
        (
            lambda: HaltParams(source, version, series, reason),
            {"source": source, "version": version, "series": series, "reason": reason},
        ),
        (
            lambda: ResumeParams(source, version, series, "sru-team", reason),
            {"source": source, "version": version, "series": series, "reason": reason},
        ),
    ]
    for make, params in cases:
        error = raises_only(ValueError, make)
        if error is not None:
            message = str(error)
            named = [name for name in params if message.startswith(name)]
            assert named, f"the rejection names no parameter: {message}"
            if named[0] not in ("by", "reason"):  # free text is described, not echoed
                assert repr(params[named[0]]) in message


# -- credentials files -------------------------------------------------------------

credentials_text = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda key, token, secret, extra: (
            f"[1]\nconsumer_key = {key}\nconsumer_secret = \naccess_token = {token}\n"
            f"access_secret = {secret}\n{extra}"
        ).encode(errors="surrogatepass"),
        any_text,
        any_text,
        st.text(alphabet=string.ascii_letters, min_size=12, max_size=20),
        any_text,
    ),
)
CREDENTIALS_REFUSALS = (
    "not a launchpadlib credentials file",
    "no consumer key or access token in it",
)


@FUZZ
@given(credentials_text)
@example(b"[1]\naccess_secret = SECRETSECRETSECRET\n")
@example(b"\xff\xfe[1]")
def test_credentials_files_are_refused_by_path_and_never_quoted(scratch: Path, data: bytes) -> None:
    path = scratch / "credentials"
    path.write_bytes(data)
    error = raises_only(UsageError, lambda: load_credentials(path))
    if error is not None:
        # Exactly "--credentials '<path>': <one of the fixed reasons>": nothing of the file.
        prefix = f"--credentials {str(path)!r}: "
        assert str(error).startswith(prefix)
        assert str(error)[len(prefix) :] in CREDENTIALS_REFUSALS
