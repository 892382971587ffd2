from __future__ import annotations

import itertools

import pytest

from phased_updater.debian import compare_versions, is_source_name, is_version

ORDERED = [
    "1.0~rc1",
    "1.0",
    "1.0-1",
    "1.0-1ubuntu0.1",
    "1.0-1ubuntu0.22.04.1",
    "1.0-1ubuntu0.22.04.2",
    "1.0-1ubuntu1",
    "1.0a",
    "1.0+b1",
    "1.9",
    "1.10",
    "1:0.1",
]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(ORDERED)))
def test_versions_sort_as_dpkg_sorts_them(lower: str, higher: str) -> None:
    assert compare_versions(lower, higher) < 0
    assert compare_versions(higher, lower) > 0


def test_equal_versions_compare_equal() -> None:
    assert compare_versions("1.0-01", "1.0-1") == 0
    assert compare_versions("0:1.0", "1.0") == 0


@pytest.mark.parametrize("text", ["1.0", "1:2.0-1", "2.0-1-2", "1.0+dfsg~1", "0.1ubuntu0.1"])
def test_valid_versions(text: str) -> None:
    assert is_version(text)


@pytest.mark.parametrize(
    "text", ["", "abc", "1.0 1", "1.0/../x", "1:", "-1", "1.0_1", "a:1.0", "x" * 300]
)
def test_invalid_versions(text: str) -> None:
    assert not is_version(text)


@pytest.mark.parametrize("text", ["foo", "libfoo1.2", "g++-12", "a0"])
def test_valid_source_names(text: str) -> None:
    assert is_source_name(text)


@pytest.mark.parametrize("text", ["", "f", "Foo", "foo bar", "-foo", "foo/bar", "<script>"])
def test_invalid_source_names(text: str) -> None:
    assert not is_source_name(text)
