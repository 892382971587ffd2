from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from phased_updater.model import Problem, ProblemKind
from phased_updater.overrides import (
    Origin,
    Overrides,
    normalise_url,
    parse_line,
    parse_records,
    thing_error,
)

URL = "https://errors.ubuntu.com/problem/5d6a4a9fd7c03ee8ad4e52d6a4e5fd0ccd1c40a1"
BUCKET = "https://errors.ubuntu.com/bucket/?id=/usr/bin/gizmo%3A11%3Arender_frame"


def test_parses_lines_comments_and_blank_lines() -> None:
    text = (
        f"# SRU team overrides\n\nfoo, 1.0-1ubuntu1, {URL}\n  bar,2.0-1ubuntu0.1,increased-rate  \n"
    )
    overrides = Overrides.parse(text)
    assert [(o.source, o.version, o.thing, o.line) for o in overrides.items] == [
        ("foo", "1.0-1ubuntu1", URL, 3),
        ("bar", "2.0-1ubuntu0.1", "increased-rate", 4),
    ]
    assert overrides.errors == ()


def test_malformed_lines_are_reported_with_their_number_and_skipped() -> None:
    text = "\n".join(
        [
            f"foo, 1.0-1, {URL}",
            "just-two, fields",
            f"Bad_Name, 1.0, {URL}",
            f"foo, not a version, {URL}",
            "foo, 1.0-1, ftp://elsewhere",
            "foo, 1.0-1, increased-rate",
        ]
    )
    overrides = Overrides.parse(text, "overrides.txt")
    assert [o.line for o in overrides.items] == [1, 6]
    assert [e.line for e in overrides.errors] == [2, 3, 4, 5]
    assert "3 comma-separated fields" in str(overrides.errors[0])
    assert "'Bad_Name'" in str(overrides.errors[1])
    assert "line 4" in str(overrides.errors[2])
    assert {e.where for e in overrides.errors} == {"overrides.txt"}


@pytest.mark.parametrize(
    "thing",
    [
        URL,
        URL + "/",
        URL.replace("https", "http"),
        BUCKET,
        "https://errors.ubuntu.com/bucket?id=x",
        "increased-rate",
    ],
)
def test_problem_and_bucket_urls_and_the_word_are_accepted(thing: str) -> None:
    assert thing_error(thing) is None
    assert not isinstance(parse_line(f"foo, 1.0-1, {thing}"), str)


@pytest.mark.parametrize(
    "thing",
    [
        "http://example.com/foo",
        "https://errors.ubuntu.com/problem/0123abcd",  # not a sha1
        "https://errors.ubuntu.com/bucket/",  # no id
        "https://errors.ubuntu.com/?package=foo",
        "ftp://errors.ubuntu.com/problem/5d6a4a9fd7c03ee8ad4e52d6a4e5fd0ccd1c40a1",
        "increased_rate",
        "javascript:alert(1)",
    ],
)
def test_anything_else_is_refused_naming_every_accepted_form(thing: str) -> None:
    reason = thing_error(thing)
    assert reason is not None
    assert repr(thing) in reason
    for form in ("problem URL", "bucket URL", "increased-rate"):
        assert form in reason
    assert parse_line(f"foo, 1.0-1, {thing}") == reason


def test_url_matching_ignores_scheme_and_trailing_slash() -> None:
    overrides = Overrides.parse(f"foo, 1.0-1, {URL.replace('https', 'http')}/\n")
    problem = Problem(ProblemKind.NEW_CRASH, URL)
    assert overrides.match("foo", "1.0-1", problem) == URL
    assert overrides.match("foo", "1.0-2", problem) is None


def test_increased_rate_word_matches_only_rate_problems() -> None:
    overrides = Overrides.parse("foo, 1.0-1, increased-rate\n")
    assert overrides.match("foo", "1.0-1", Problem(ProblemKind.INCREASED_RATE, URL))
    assert overrides.match("foo", "1.0-1", Problem(ProblemKind.NEW_CRASH, URL)) is None


def test_a_repeated_line_is_a_duplicate_of_the_first_which_is_in_force() -> None:
    text = f"foo, 1.0-1, {URL}\nbar, 2.0-1, increased-rate\nfoo, 1.0-1, {URL}/\n"
    overrides = Overrides.parse(text)
    assert [o.line for o in overrides.items] == [1, 2]
    assert [(d.override.line, d.first.line) for d in overrides.duplicates] == [(3, 1)]
    assert len(overrides.read) == 3


def test_sources_combine_and_a_repeat_across_them_is_a_duplicate() -> None:
    git = Overrides.parse(f"foo, 1.0-1, {URL}\n", "git://host/o.git", lambda _: Origin("git", "g"))
    local = Overrides.parse(f"foo, 1.0-1, {URL}\nbar, 2.0-1, increased-rate\n", "local.csv")
    both = Overrides.combine([git, local])
    assert [(o.source, o.origin.kind if o.origin else None) for o in both.items] == [
        ("foo", "git"),
        ("bar", "file"),
    ]
    [duplicate] = both.duplicates
    assert duplicate.override.line == 1
    assert duplicate.override.origin == Origin("file", "local.csv")
    problem = Problem(ProblemKind.NEW_CRASH, URL)
    found = both.find("foo", "1.0-1", problem)
    assert found is not None and found.origin == Origin("git", "g")


def test_the_charm_records_carry_who_and_why() -> None:
    document = {
        "overrides": [
            {
                "source": "foo",
                "version": "1.0-1",
                "problem": URL,
                "by": "alice",
                "reason": "old crash",
                "at": "2025-03-10T12:00:00Z",
            },
            {"source": "foo", "version": "1.0-1", "problem": "http://example.com/x"},
            "not an object",
        ]
    }
    overrides = parse_records(json.dumps(document), "/etc/phased-updater/overrides.json")
    [item] = overrides.items
    assert item.origin == Origin(
        "action",
        "/etc/phased-updater/overrides.json",
        by="alice",
        at=datetime(2025, 3, 10, 12, tzinfo=UTC),
        reason="old crash",
    )
    assert [(e.line, e.unit) for e in overrides.errors] == [(2, "entry"), (3, "entry")]
    assert str(overrides.errors[0]).startswith("entry 2: 'http://example.com/x' is neither")


@pytest.mark.parametrize("text", ["[]", "{", '{"overrides": {}}'])
def test_a_records_file_of_another_shape_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"JSON|overrides"):
        parse_records(text, "x.json")


def test_origin_round_trips_through_json() -> None:
    origin = Origin(
        "git", "git://h/r.git", "Alice", datetime(2025, 3, 1, tzinfo=UTC), "add", "ab" * 20, True
    )
    assert Origin.from_json(origin.to_json()) == origin
    assert Origin.from_json({"kind": 1}) is None


def test_text_urlsplit_refuses_is_named_as_no_url() -> None:
    broken = "https://[errors.ubuntu.com/problem/4f6c1a0d"
    assert thing_error(broken) == f"{broken!r} is not a URL (Invalid IPv6 URL)"
    assert normalise_url(broken) == broken  # matched against nothing, never raised
