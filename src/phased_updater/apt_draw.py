"""The client side of phasing: which machines install an update at a given percentage.

apt (since 2.1.16; ``IsIgnoredPhasedUpdate``, in ``apt-pkg/upgrade.cc`` in apt 2.x and
``apt-pkg/depcache.cc`` in later releases) draws a number from 0 to 100 per machine and
update, and holds the update back when the draw is above the Phased-Update-Percentage
(p-u-p). :func:`apt_draw` reproduces that draw bit for
bit, as apt compiled against libstdc++ computes it:

1. seed string = source package + ``-`` + source version + ``-`` + machine ID;
2. ``std::seed_seq`` over the string's ``char`` values;
3. ``std::minstd_rand`` seeded from that sequence;
4. ``std::uniform_int_distribution<unsigned int>(0, 100)``, libstdc++'s algorithm.

The older update-manager draw (:func:`update_manager_draw`) uses Python's ``random``.

Everything here is pure; reading ``/etc/machine-id`` or detecting a chroot belongs to
the caller, which passes the result in as a :class:`PhasingEnvironment`.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "DrawMethod",
    "PhasingDecision",
    "PhasingEnvironment",
    "SkipReason",
    "apt_draw",
    "draw_for",
    "minstd_rand_seed_from_sequence",
    "minstd_state_from_word",
    "receives_update",
    "seed_seq_generate",
    "seed_string",
    "uniform_int_from_minstd",
    "update_manager_draw",
]

MAX_PERCENTAGE = 100

_MASK32 = 0xFFFF_FFFF

# std::minstd_rand is linear_congruential_engine<uint_fast32_t, 48271, 0, 2^31 - 1>.
MINSTD_MULTIPLIER = 48271
MINSTD_MODULUS = 2**31 - 1
# Its min() is 1 (c == 0, so state 0 never occurs) and its max() is m - 1.
_MINSTD_MIN = 1
_MINSTD_MAX = MINSTD_MODULUS - 1


def seed_string(source: str, version: str, machine_id: str) -> str:
    """The string apt seeds its draw with: ``source-version-machineid``."""
    return f"{source}-{version}-{machine_id}"


def seed_seq_generate(values: Sequence[int], count: int) -> list[int]:
    """``std::seed_seq(values).generate(out, out + count)``, as [rand.util.seedseq] says.

    ``values`` are the sequence's stored 32-bit words. All arithmetic is modulo 2**32,
    as on the standard's ``uint_least32_t``.
    """
    if count == 0:
        return []
    words = [0x8B8B_8B8B] * count
    n = count
    s = len(values)
    if n >= 623:
        t = 11
    elif n >= 68:
        t = 7
    elif n >= 39:
        t = 5
    elif n >= 7:
        t = 3
    else:
        t = (n - 1) // 2
    p = (n - t) // 2
    q = p + t
    m = max(s + 1, n)

    def mix(x: int) -> int:
        return x ^ (x >> 27)

    for k in range(m):
        r1 = (1664525 * mix(words[k % n] ^ words[(k + p) % n] ^ words[(k - 1) % n])) & _MASK32
        if k == 0:
            r2 = (r1 + s) & _MASK32
        elif k <= s:
            r2 = (r1 + k % n + values[k - 1]) & _MASK32
        else:
            r2 = (r1 + k % n) & _MASK32
        words[(k + p) % n] = (words[(k + p) % n] + r1) & _MASK32
        words[(k + q) % n] = (words[(k + q) % n] + r2) & _MASK32
        words[k % n] = r2
    for k in range(m, m + n):
        total = (words[k % n] + words[(k + p) % n] + words[(k - 1) % n]) & _MASK32
        r3 = (1566083941 * mix(total)) & _MASK32
        r4 = (r3 - k % n) & _MASK32
        words[(k + p) % n] ^= r3
        words[(k + q) % n] ^= r4
        words[k % n] = r4
    return words


def minstd_rand_seed_from_sequence(values: Sequence[int]) -> int:
    """The initial state of ``std::minstd_rand(seed_seq(values))``.

    [rand.eng.lcong]: with k = ceil(log2(m) / 32) = 1 for m = 2**31 - 1, the engine asks
    the sequence for k + 3 = 4 words and uses word 3 (the words at index 3 .. 3 + k - 1,
    little-endian); state = that mod m, and 0 becomes 1 because c == 0.
    """
    words = seed_seq_generate(values, 4)
    return minstd_state_from_word(words[3])


def minstd_state_from_word(word: int) -> int:
    """minstd_rand's ``seed(s)``: state = s mod m, except that 0 becomes 1.

    With c == 0 a state of 0 would stay 0 for ever, so the standard maps it to 1.
    """
    return word % MINSTD_MODULUS or 1


def uniform_int_from_minstd(state: int, low: int, high: int) -> tuple[int, int]:
    """libstdc++'s ``uniform_int_distribution(low, high)(minstd_rand)``.

    Returns (value, new engine state). minstd_rand's range [1, 2**31 - 2] spans
    2**31 - 3 values, which is neither 2**32 - 1 nor 2**64 - 1, so libstdc++ takes its
    generic "downscaling" path: scale = urngrange // (range + 1); draw ``x - min``
    until it is below ``scale * (range + 1)``, then divide by ``scale``. The rejection
    loop is what keeps every outcome equally likely, and it changes the result for the
    rare seeds whose first output falls in the rejected tail.
    """
    if not 0 <= low <= high:
        raise ValueError(f"invalid range [{low}, {high}]: need 0 <= low <= high")
    urng_range = _MINSTD_MAX - _MINSTD_MIN
    wanted_range = high - low
    if wanted_range >= urng_range:
        # Upscaling (several engine calls per value) is never needed for 0..100.
        raise ValueError(f"range [{low}, {high}] is wider than minstd_rand's")
    buckets = wanted_range + 1
    scaling = urng_range // buckets
    past = buckets * scaling
    while True:
        state = (state * MINSTD_MULTIPLIER) % MINSTD_MODULUS
        offset = state - _MINSTD_MIN
        if offset < past:
            return low + offset // scaling, state


def _char_values(text: str, *, signed_char: bool) -> list[int]:
    """The 32-bit words seed_seq stores for the ``char`` elements of ``text``.

    apt passes ``std::string`` iterators, so each *byte* of the UTF-8 text is a
    ``char``. On amd64 and i386 ``char`` is signed: a byte >= 0x80 is negative and
    converts to 0xFFFFFFxx. On arm64, armhf, ppc64el, s390x and riscv64 ``char`` is
    unsigned. Package names, versions and machine IDs are ASCII, where both agree.
    """
    data = text.encode("utf-8")
    if not signed_char:
        return list(data)
    return [(byte - 256) & _MASK32 if byte >= 0x80 else byte for byte in data]


def apt_draw(source: str, version: str, machine_id: str, *, signed_char: bool = True) -> int:
    """The number (0..100) apt draws for this machine and update.

    ``source`` and ``version`` are the *source* package's name and version (apt uses
    ``SourcePkgName()`` and ``SourceVerStr()``), so all binaries of one upload share a
    draw. ``signed_char`` selects the platform's ``char`` signedness, which matters only
    for non-ASCII input (see :func:`_char_values`); the default matches amd64.
    """
    values = _char_values(seed_string(source, version, machine_id), signed_char=signed_char)
    state = minstd_rand_seed_from_sequence(values)
    value, _ = uniform_int_from_minstd(state, 0, MAX_PERCENTAGE)
    return value


def update_manager_draw(package: str, version: str, machine_id: str) -> int:
    """The number (0..100) update-manager draws for this machine and update.

    update-manager seeds Python's ``random`` with ``"%s-%s-%s"`` of the *binary*
    package's name, the candidate's (binary) version and the machine ID (its
    ``UpdateList._is_ignored_phased_update``), then calls ``randint(0, 100)``. It does
    not draw the same number as apt.
    """
    # Not for security: reproducing update-manager's deterministic draw is the point.
    generator = random.Random(seed_string(package, version, machine_id))  # noqa: S311
    return generator.randint(0, MAX_PERCENTAGE)


def receives_update(draw: int, percentage: int) -> bool:
    """Whether a machine that drew ``draw`` gets an update phased at ``percentage``.

    apt holds back when ``draw > p-u-p``; update-manager when ``p-u-p < draw``. Both
    are the same test. Because draws include 0, about 1 machine in 101 gets an update
    whose p-u-p is 0.
    """
    return draw <= percentage


class DrawMethod(enum.Enum):
    """Which client's draw to model."""

    APT = "apt"
    UPDATE_MANAGER = "update-manager"


class SkipReason(enum.Enum):
    """Why a client installs the update without drawing at all."""

    SECURITY_UPDATE = "security updates are never phased"
    EMPTY_MACHINE_ID = "the machine ID is empty, so apt does not phase"
    SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH is set (reproducible build), so apt does not phase"
    CHROOT = "apt runs in a chroot (ischroot -t succeeds), so it does not phase"


@dataclass(frozen=True)
class PhasingEnvironment:
    """Facts about the machine, beyond its ID, that make apt skip phasing.

    ``security_update``: the candidate, or a version between the installed one and it,
    comes from a ``-security`` pocket. ``source_date_epoch_set``: the variable exists
    in apt's environment (apt checks presence, not value). ``in_chroot``: apt's
    ``ischroot -t`` succeeds, which includes "cannot tell".
    """

    security_update: bool = False
    source_date_epoch_set: bool = False
    in_chroot: bool = False


@dataclass(frozen=True)
class PhasingDecision:
    """Whether one machine installs one update at one percentage, and why.

    ``draw`` is None exactly when ``skipped`` lists a reason: the client never draws
    then, and inventing a number would mislead.
    """

    method: DrawMethod
    percentage: int
    installs: bool
    draw: int | None
    skipped: tuple[SkipReason, ...]


def draw_for(
    source: str,
    version: str,
    machine_id: str,
    percentage: int,
    *,
    method: DrawMethod = DrawMethod.APT,
    environment: PhasingEnvironment | None = None,
) -> PhasingDecision:
    """Decide as the client would whether this machine installs the update.

    For apt, ``source``/``version`` are the source package's; for update-manager they
    are the binary package's. Only apt skips for an empty machine ID, a chroot or
    SOURCE_DATE_EPOCH; both skip security updates.
    """
    if not 0 <= percentage <= MAX_PERCENTAGE:
        raise ValueError(f"invalid percentage {percentage}: must be 0 to {MAX_PERCENTAGE}")
    env = environment or PhasingEnvironment()
    reasons: list[SkipReason] = []
    if env.security_update:
        reasons.append(SkipReason.SECURITY_UPDATE)
    if method is DrawMethod.APT:
        if not machine_id:
            reasons.append(SkipReason.EMPTY_MACHINE_ID)
        if env.source_date_epoch_set:
            reasons.append(SkipReason.SOURCE_DATE_EPOCH)
        if env.in_chroot:
            reasons.append(SkipReason.CHROOT)
    if reasons:
        return PhasingDecision(method, percentage, True, None, tuple(reasons))
    if method is DrawMethod.APT:
        draw = apt_draw(source, version, machine_id)
    else:
        draw = update_manager_draw(source, version, machine_id)
    return PhasingDecision(method, percentage, receives_update(draw, percentage), draw, ())
