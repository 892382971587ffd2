from __future__ import annotations

from phased_updater.model import Problem, ProblemKind
from phased_updater.overrides import Overrides

URL = "https://errors.ubuntu.com/problem/0123abcd"


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
    overrides = Overrides.parse(text)
    assert [o.line for o in overrides.items] == [1, 6]
    assert [e.line for e in overrides.errors] == [2, 3, 4, 5]
    assert "3 comma-separated fields" in str(overrides.errors[0])
    assert "'Bad_Name'" in str(overrides.errors[1])
    assert "line 4" in str(overrides.errors[2])


def test_url_matching_ignores_scheme_and_trailing_slash() -> None:
    overrides = Overrides.parse("foo, 1.0-1, http://errors.ubuntu.com/problem/0123abcd/\n")
    problem = Problem(ProblemKind.NEW_CRASH, URL)
    assert overrides.match("foo", "1.0-1", problem) == URL
    assert overrides.match("foo", "1.0-2", problem) is None


def test_increased_rate_word_matches_only_rate_problems() -> None:
    overrides = Overrides.parse("foo, 1.0-1, increased-rate\n")
    assert overrides.match("foo", "1.0-1", Problem(ProblemKind.INCREASED_RATE, URL))
    assert overrides.match("foo", "1.0-1", Problem(ProblemKind.NEW_CRASH, URL)) is None
