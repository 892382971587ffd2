"""The client-side draw, its building blocks, its statistics and `phased-updater check`.

Golden values marked "C++" come from small programs built with g++ 12 / libstdc++
(Debian bookworm) calling std::seed_seq, std::minstd_rand and
std::uniform_int_distribution exactly as apt does; the apt cross-check in
tests/functional/test_apt_crosscheck.py compares with apt itself.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phased_updater.apt_draw import (
    MINSTD_MODULUS,
    MINSTD_MULTIPLIER,
    DrawMethod,
    PhasingEnvironment,
    SkipReason,
    apt_draw,
    minstd_state_from_word,
    receives_update,
    seed_seq_generate,
    uniform_int_from_minstd,
    update_manager_draw,
)
from phased_updater.apt_draw import (
    draw_for as decide,
)
from phased_updater.cli import build_parser, main
from phased_updater.commands import check
from phased_updater.errors import UsageError

MACHINE = "3d1219c7c4c5404aaa1f6d2a48adfda4"

# --- building blocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "count", "expected"),
    [
        ([], 4, [719821457, 1889219533, 3532099774, 3895714911]),
        ([1, 2, 3], 4, [2494033729, 3915881101, 1602617867, 764004082]),
        # count 10 takes the standard's t = 3 branch; 0xFFFFFFFF checks the wrap-around.
        (
            [0xFFFFFFFF, 7],
            10,
            [
                4212880635,
                2999776363,
                3732496038,
                273274412,
                1124034154,
                769004095,
                3222254272,
                2953950816,
                1969845818,
                3433589814,
            ],
        ),
        ([104, 105], 1, [2673782804]),
        ([5], 0, []),
    ],
)
def test_seed_seq_generate_matches_libstdcxx(
    values: list[int], count: int, expected: list[int]
) -> None:  # C++
    assert seed_seq_generate(values, count) == expected


@pytest.mark.parametrize(
    ("word", "state"),
    [(0, 1), (MINSTD_MODULUS, 1), (MINSTD_MODULUS + 5, 5), (2**32 - 1, 1), (12345, 12345)],
)
def test_minstd_seed_reduces_mod_m_and_never_starts_at_zero(word: int, state: int) -> None:
    assert minstd_state_from_word(word) == state


def _state_before(output: int) -> int:
    """The minstd state whose next output is ``output``."""
    return output * pow(MINSTD_MULTIPLIER, -1, MINSTD_MODULUS) % MINSTD_MODULUS


def test_uniform_int_uses_the_first_output_when_it_is_below_the_cut_off() -> None:
    # Offset 2147483613 is the last accepted one: 2147483613 // 21262214 == 100.
    assert uniform_int_from_minstd(_state_before(2147483614), 0, 100) == (100, 2147483614)
    assert uniform_int_from_minstd(1, 0, 100) == (0, MINSTD_MULTIPLIER)


@pytest.mark.parametrize(
    ("first_output", "after_rejection", "next_output"),
    [(2147483615, 2145938975, 599065533), (2147483646, 2147435376, 1964877853)],
)
def test_uniform_int_rejects_the_tail_and_draws_again(
    first_output: int, after_rejection: int, next_output: int
) -> None:  # C++: dist(engine) == 100, then engine() == next_output
    value, state = uniform_int_from_minstd(_state_before(first_output), 0, 100)
    # Without the rejection loop, (first_output - 1) // 21262214 would be 101.
    assert (value, state) == (100, after_rejection)
    assert state * MINSTD_MULTIPLIER % MINSTD_MODULUS == next_output


def test_uniform_int_refuses_ranges_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="wider"):
        uniform_int_from_minstd(1, 0, 2**31)
    with pytest.raises(ValueError, match="invalid range"):
        uniform_int_from_minstd(1, 5, 4)


# --- the draws ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "version", "machine_id", "expected"),
    [
        ("hello", "1.0", "abc", 56),
        ("foo", "2.0", MACHINE, 37),
        ("x", "", "", 49),
        ("hello", "2.10-3ubuntu0.1", MACHINE, 80),
        ("openssl", "3.0.2-0ubuntu1.15", "0" * 32, 10),
        ("linux-meta", "6.8.0-45.45", "f" * 32, 51),
        ("systemd", "255.4-1ubuntu8.4", "b0c5d8c9f8a84fd8a0f9f2b6f2a1e3d4", 32),
        ("a", "b", "c", 93),
    ],
)
def test_apt_draw_matches_libstdcxx(
    source: str, version: str, machine_id: str, expected: int
) -> None:  # C++
    assert apt_draw(source, version, machine_id) == expected


def test_apt_draw_follows_char_signedness_for_non_ascii() -> None:  # C++, -funsigned-char
    assert apt_draw("n\u00e9", "1", "\u00e9", signed_char=True) == 57
    assert apt_draw("n\u00e9", "1", "\u00e9", signed_char=False) == 74


@pytest.mark.parametrize(
    ("source", "version", "machine_id", "expected"),
    [
        # Observed with apt 2.6.1: -o APT::Machine-ID=0004 upgraded pa at 50%, held
        # back srcb's binary; 0006 the other way round.
        ("pa", "2.0", "0004", 25),
        ("srcb", "2.0", "0004", 100),
        ("srcb", "2.0", "0006", 0),
    ],
)
def test_apt_draw_matches_observed_apt(
    source: str, version: str, machine_id: str, expected: int
) -> None:
    assert apt_draw(source, version, machine_id) == expected


def test_update_manager_draw_is_python_random_on_the_same_string() -> None:
    # Python's str seeding (version 2, SHA-512) is stable since 3.2.
    assert update_manager_draw("hello", "2.10-3ubuntu0.1", MACHINE) == 54
    assert update_manager_draw("hello", "2.10-3ubuntu0.1", "") == 19
    # Not apt's number for the same machine and update (apt draws 80).
    assert apt_draw("hello", "2.10-3ubuntu0.1", MACHINE) == 80


def test_receives_update_holds_back_only_above_the_percentage() -> None:
    assert receives_update(0, 0)
    assert receives_update(30, 30)
    assert not receives_update(31, 30)
    assert receives_update(100, 100)


# --- decide: the skip cases -------------------------------------------------------------


def test_decide_draws_when_nothing_skips_phasing() -> None:
    decision = decide("hello", "2.10-3ubuntu0.1", MACHINE, 79)
    assert (decision.draw, decision.installs, decision.skipped) == (80, False, ())
    assert decide("hello", "2.10-3ubuntu0.1", MACHINE, 80).installs


@pytest.mark.parametrize(
    ("machine_id", "environment", "reasons"),
    [
        (MACHINE, PhasingEnvironment(security_update=True), (SkipReason.SECURITY_UPDATE,)),
        ("", PhasingEnvironment(), (SkipReason.EMPTY_MACHINE_ID,)),
        (MACHINE, PhasingEnvironment(source_date_epoch_set=True), (SkipReason.SOURCE_DATE_EPOCH,)),
        (MACHINE, PhasingEnvironment(in_chroot=True), (SkipReason.CHROOT,)),
        (
            "",
            PhasingEnvironment(security_update=True, in_chroot=True),
            (SkipReason.SECURITY_UPDATE, SkipReason.EMPTY_MACHINE_ID, SkipReason.CHROOT),
        ),
    ],
)
def test_decide_reports_skips_without_a_draw(
    machine_id: str, environment: PhasingEnvironment, reasons: tuple[SkipReason, ...]
) -> None:
    decision = decide("hello", "1.0", machine_id, 0, environment=environment)
    assert decision.installs
    assert decision.draw is None
    assert decision.skipped == reasons


def test_update_manager_ignores_apt_only_skips_but_not_security() -> None:
    environment = PhasingEnvironment(source_date_epoch_set=True, in_chroot=True)
    decision = decide(
        "hello", "1.0", "", 50, method=DrawMethod.UPDATE_MANAGER, environment=environment
    )
    assert decision.skipped == ()
    assert decision.draw == update_manager_draw("hello", "1.0", "")
    secure = decide(
        "hello",
        "1.0",
        MACHINE,
        0,
        method=DrawMethod.UPDATE_MANAGER,
        environment=PhasingEnvironment(security_update=True),
    )
    assert secure.skipped == (SkipReason.SECURITY_UPDATE,)


@pytest.mark.parametrize("percentage", [-1, 101])
def test_decide_rejects_percentages_outside_0_to_100(percentage: int) -> None:
    with pytest.raises(ValueError, match=f"invalid percentage {percentage}"):
        decide("hello", "1.0", MACHINE, percentage)


# --- properties ------------------------------------------------------------------------

names = st.text(min_size=0, max_size=40)
percentages = st.integers(min_value=0, max_value=100)


@given(names, names, names, st.sampled_from(DrawMethod))
def test_draws_are_in_0_to_100(
    source: str, version: str, machine_id: str, method: DrawMethod
) -> None:
    draw = (
        apt_draw(source, version, machine_id)
        if method is DrawMethod.APT
        else (update_manager_draw(source, version, machine_id))
    )
    assert 0 <= draw <= 100


@given(
    names,
    names,
    st.text(min_size=1, max_size=40),
    percentages,
    percentages,
    st.sampled_from(DrawMethod),
)
def test_raising_the_percentage_never_takes_the_update_away(
    source: str, version: str, machine_id: str, low: int, high: int, method: DrawMethod
) -> None:
    low, high = sorted((low, high))
    if decide(source, version, machine_id, low, method=method).installs:
        assert decide(source, version, machine_id, high, method=method).installs


SAMPLE_MACHINES = 4000


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    st.from_regex(r"[a-z][a-z0-9+.-]{1,20}", fullmatch=True),
    st.from_regex(r"[0-9][0-9a-z.+~-]{0,20}", fullmatch=True),
    st.integers(min_value=0, max_value=2**32),
)
def test_share_receiving_at_p_is_p_plus_1_over_101(source: str, version: str, seed: int) -> None:
    generator = random.Random(seed)  # noqa: S311 (machine IDs for a sample, not secrets)
    draws = [
        apt_draw(source, version, f"{generator.getrandbits(128):032x}")
        for _ in range(SAMPLE_MACHINES)
    ]
    for percentage in range(101):
        expected = (percentage + 1) / 101
        observed = sum(receives_update(d, percentage) for d in draws) / SAMPLE_MACHINES
        sigma = (expected * (1 - expected) / SAMPLE_MACHINES) ** 0.5
        # 5 sigma: a wrong share (e.g. p/100, which ignores the draw of 0 at p = 0,
        # or draws of 1..100) is off by at least 1/101 ~ 6 sigma at the ends.
        assert abs(observed - expected) <= 5 * sigma + 1e-12, (percentage, observed, expected)


def test_share_at_zero_is_not_zero() -> None:
    """The draw includes 0: a stopped update still reaches about 1 machine in 101."""
    generator = random.Random(7)  # noqa: S311 (machine IDs for a sample, not secrets)
    draws = [apt_draw("hello", "1.0", f"{generator.getrandbits(128):032x}") for _ in range(5000)]
    assert 0 in draws
    assert 100 in draws


# --- `phased-updater check` -------------------------------------------------------------


def _check(
    argv: list[str],
    tmp_path: Path,
    *,
    environ: dict[str, str] | None = None,
    chroot: bool = False,
    machine_id_file_text: str | None = MACHINE + "\n",
) -> int:
    machine_id_file = tmp_path / "machine-id"
    if machine_id_file_text is not None:
        machine_id_file.write_text(machine_id_file_text, encoding="utf-8")
    args: argparse.Namespace = build_parser().parse_args(["check", *argv])
    return check.run(
        args,
        environ=environ or {},
        probe_chroot=lambda: chroot,
        machine_id_file=machine_id_file,
    )


def test_check_prints_the_draw_and_holds_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(["hello", "2.10-3ubuntu0.1", "30"], tmp_path) == 0
    out = capsys.readouterr().out
    assert "draw:       80\n" in out
    assert "holds the update back (draw 80 > 30)" in out
    assert f"(from {tmp_path / 'machine-id'})" in out
    assert "once the percentage reaches 80" in out


def test_check_with_machine_id_installs_and_says_what_it_did_not_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(
        ["hello", "2.10-3ubuntu0.1", "80", "--machine-id", MACHINE],
        tmp_path,
        chroot=True,
        environ={"SOURCE_DATE_EPOCH": "1"},
    )
    out = capsys.readouterr().out
    assert "installs the update (draw 80 <= 80)" in out
    assert "(from --machine-id)" in out
    assert "chroot and SOURCE_DATE_EPOCH were not checked" in out


@pytest.mark.parametrize(
    ("argv", "environ", "chroot", "file_text", "reason"),
    [
        (["--security"], {}, False, MACHINE, SkipReason.SECURITY_UPDATE),
        (["--machine-id", ""], {}, False, MACHINE, SkipReason.EMPTY_MACHINE_ID),
        ([], {}, False, None, SkipReason.EMPTY_MACHINE_ID),
        ([], {}, False, "\n", SkipReason.EMPTY_MACHINE_ID),
        ([], {"SOURCE_DATE_EPOCH": ""}, False, MACHINE, SkipReason.SOURCE_DATE_EPOCH),
        ([], {}, True, MACHINE, SkipReason.CHROOT),
    ],
)
def test_check_prints_skips_as_notes_without_a_draw(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    environ: dict[str, str],
    chroot: bool,
    file_text: str | None,
    reason: SkipReason,
) -> None:
    _check(
        ["hello", "2.10-3ubuntu0.1", "0", *argv],
        tmp_path,
        environ=environ,
        chroot=chroot,
        machine_id_file_text=file_text,
    )
    out = capsys.readouterr().out
    assert f"note: {reason.value}" in out
    assert "draw:       none" in out
    assert "installs the update (phasing skipped)" in out


def test_check_update_manager_uses_its_own_draw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(["--update-manager", "hello", "2.10-3ubuntu0.1", "60"], tmp_path, chroot=True)
    out = capsys.readouterr().out
    assert "client:     update-manager" in out
    assert "installs the update (draw 54 <= 60)" in out


def test_check_unreadable_machine_id_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _check(["hello", "1.0", "5"], tmp_path, machine_id_file_text=None)
    out = capsys.readouterr().out
    assert "machine ID: (empty)" in out
    assert "No such file or directory" in out


@pytest.mark.parametrize(
    ("percentage", "reason"),
    [
        ("101", "must be 0 to 100"),
        ("-1", "must be 0 to 100"),
        ("ten", "not a whole number"),
        ("5.5", "not a whole number"),
    ],
)
def test_check_rejects_bad_percentages(tmp_path: Path, percentage: str, reason: str) -> None:
    with pytest.raises(UsageError, match=reason) as raised:
        _check(["hello", "1.0", percentage], tmp_path)
    assert repr(percentage) in str(raised.value)


def test_check_bad_percentage_exits_2_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "hello", "1.0", "200", "--machine-id", MACHINE]) == 2
    assert "phased-updater check: percentage '200': must be 0 to 100" in capsys.readouterr().err
