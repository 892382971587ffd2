"""parse_duration and format_duration: the grammar, the refusals and the round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phased_updater.duration import MAX_DURATION, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("90m", timedelta(minutes=90)),
        ("6h", timedelta(hours=6)),
        ("1d", timedelta(days=1)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("  6h\n", timedelta(hours=6)),
        ("06h", timedelta(hours=6)),
        ("0h30m", timedelta(minutes=30)),
        ("366d", MAX_DURATION),
    ],
)
def test_parse_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0h", "must be positive, not zero"),
        ("0h0m", "must be positive, not zero"),
        ("-1h", "must be positive"),
        ("6", "expected <integer><unit>"),
        ("h", "expected <integer><unit>"),
        ("1h30", "expected <integer><unit>"),
        ("1.5h", "expected <integer><unit>"),
        ("+1h", "expected <integer><unit>"),
        ("6 h", "expected <integer><unit>"),
        ("1h 30m", "expected <integer><unit>"),
        ("\u0666h", "expected <integer><unit>"),  # an Arabic-Indic digit is not ASCII
        ("6y", "unknown unit 'y'"),
        ("6H", "unknown unit 'H'"),
        ("6hours", "unknown unit 'hours'"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("367d", "longer than the maximum of 366d"),
        ("53w", "longer than the maximum of 366d"),
        ("9" * 40 + "s", "longer than the maximum of 366d"),
    ],
)
def test_parse_rejects_naming_value_and_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as raised:
        parse_duration(text)
    message = str(raised.value)
    assert repr(text) in message
    assert reason in message


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(hours=6), "6h"),
        (timedelta(hours=54), "2d6h"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(seconds=1.6), "2s"),
        (timedelta(hours=-5, minutes=-24), "-5h24m"),
    ],
)
def test_format(duration: timedelta, expected: str) -> None:
    assert format_duration(duration) == expected


@given(st.integers(min_value=1, max_value=int(MAX_DURATION.total_seconds())))
def test_format_then_parse_round_trips(seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    assert parse_duration(format_duration(duration)) == duration
