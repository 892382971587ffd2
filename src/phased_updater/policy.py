"""The phasing policy: facts, overrides, standing and time in, a Decision out. No I/O.

What goes in: the update as Launchpad has it (each binary's level, and who set it and
from which level), the Error Tracker's check, the overrides, a halt, the latest
`resume`, the standing the previous decision left (the stop in force and what people
acknowledged), the phaser's own Launchpad account, and the time.

The rules, in the order they are applied:

1. Halted with `phased-updater halt`: it goes to 0 and stays there until `resume`.
2. A person's stop: a level lowered on Launchpad by any account but the phaser's (an
   SRU member's or archive admin's `change-override --percentage`) is never raised.
   It is held as it is until a person raises it again on Launchpad or runs `resume`.
3. A person's raise on Launchpad, or a `resume`, ends the stop in force. The problems
   on record then count as acknowledged by that person (like an override, shown with
   who and when); only a problem found later stops it again. After a raise the update
   phases from the person's level; after a `resume`, from its peak.
4. A stop the phaser wrote on Launchpad that no decision recorded (a record lost to a
   crash, a fresh database) is recorded now, from Launchpad's own records (when, from
   which level), with the problems the Error Tracker reports now, or "not recorded".
5. The Error Tracker could not answer: nothing changes (`unknown`). No data is
   neither a pass nor a fail.
6. A stop in force is sticky: it stays until every problem on record is resolved (the
   ones that caused it and the ones found while it held). A problem the Error Tracker
   stops reporting stays on record, shown as "not reported since". Once every one is
   resolved it resumes at the highest level it had reached. A stop whose causes were
   not recorded is lifted only by a person (rule 3).
7. Nothing to compare its crashes with (no previous version in the series, or a
   version the Error Tracker does not know): it is held at its level until an
   `unchecked` override or a `resume` lets it phase without the checks.
8. A problem that is not resolved stops it at 0; the problem is recorded with the stop.
9. At 0 with no stop in force (it was released at 0): held for a person.
10. Once it has been at its level for the interval less a tenth, it moves one step up,
    capped at 100 (complete); otherwise it waits. The tenth of slack lets a timer that
    fires every interval step once per firing although the previous write landed a
    little after the previous firing. "At its level since" comes from Launchpad's own
    records, so a lost database or a second run in the same hour never steps twice.
    The step and the interval are those of the update's speed class (`speed`), which
    the caller passes in.
11. A freeze window (`freeze`) in force at `now` holds a step to 100 (and a resume to
    100): the update stays at its level and completes after the window ends. A
    `no-steps` window holds every step; it never holds a stop, nor a resume below 100.

The members of a phasing group are then decided together (`groups.move_together`).

Where an earlier run wrote only some binaries, the update's level is the highest of
them; applying the decision then brings every binary to the same level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from phased_updater.duration import format_duration
from phased_updater.freeze import FreezeCalendar, FreezeWindow, week_moment
from phased_updater.model import (
    FULLY_PHASED,
    Acknowledgement,
    Action,
    BinaryPublication,
    CrashCheck,
    Decision,
    Halt,
    Problem,
    Resume,
    Standing,
    State,
    StopRecord,
    Update,
    account_name,
)
from phased_updater.overrides import Overrides, problem_key


def minimum_wait(interval: timedelta) -> timedelta:
    return interval - interval / 10


def writes_for(update: Update, decision: Decision) -> list[tuple[str, int]]:
    """The (binary self_link, percentage) writes that bring every deb to the target.

    Debug publications are never written: Launchpad rewrites a ddeb with its deb.

    Every architecture's copy of an Architecture: all deb is written, each with a
    changeOverride of its own; one would not do. Launchpad's
    BinaryPackagePublishingHistory.changeOverride (lib/lp/soyuz/model/publishing.py,
    read at 6bd1e75 of 2026-03-27) creates one record, for `self.distroarchseries`,
    and rewrites only the ddebs findCorrespondingDDEBPublications finds on that same
    distroarchseries; it never goes through publishBinaries/expand_binary_requests,
    which is what publishes an arch-all binary on every architecture at copy time.
    Worse, the publisher's domination is atomic for arch-all binaries
    (Dominator.dominateBinaries in lib/lp/archivepublisher/domination.py): once the
    old record on one architecture is superseded, getOtherPublications supersedes
    its siblings with the same overrides (the old percentage) on every other one, so
    the copies left unwritten would vanish from their architectures' indexes
    (test_dominator.py's test_atomic_domination_respects_overrides writes every
    copy for this reason). The Launchpad double does both the same way.
    """
    if decision.action in (Action.UNKNOWN, Action.HOLD):
        return []
    return [
        (binary.self_link, decision.to_percentage)
        for binary in update.debs
        if binary.percentage != decision.to_percentage
    ]


def _newest(binaries: Iterable[BinaryPublication]) -> BinaryPublication | None:
    return max(binaries, key=lambda b: (b.date_created, b.self_link), default=None)


def _by_phaser(binary: BinaryPublication, phaser: str | None) -> bool:
    return phaser is not None and binary.set_by == phaser


def person_stop(update: Update, phaser: str | None) -> BinaryPublication | None:
    """The newest deb record that lowered the level on someone else's account.

    Launchpad names the account of every changeOverride; with no known phaser account
    (an anonymous run on a fresh database), every lowering counts as a person's: the
    phaser then never raises what it cannot prove it set.
    """
    return _newest(b for b in update.debs if b.lowered and not _by_phaser(b, phaser))


def person_raise(update: Update, phaser: str | None) -> BinaryPublication | None:
    """The newest level change, when it is a raise on someone else's account."""
    newest = _newest(b for b in update.debs if b.changed_after_release)
    if newest is not None and newest.raised and not _by_phaser(newest, phaser):
        return newest
    return None


def stop_on_launchpad(update: Update, phaser: str | None) -> BinaryPublication | None:
    """The newest deb record in which the phaser itself lowered the level to 0."""
    return _newest(
        b for b in update.debs if b.percentage == 0 and b.lowered and _by_phaser(b, phaser)
    )


def _who(link: str | None) -> str:
    return account_name(link) if link else "an unnamed account"


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _on_record(problem: Problem, now: datetime) -> Problem:
    """A problem as a stop keeps it: unmarked, with when it was last reported."""
    return replace(
        problem, overridden=False, acknowledged=None, last_reported=problem.last_reported or now
    )


def _merge(recorded: Sequence[Problem], current: Sequence[Problem]) -> tuple[Problem, ...]:
    """The stop's problems: those on record (newest report of each), then new ones."""
    reported = {problem_key(p): p for p in current}
    merged = [reported.pop(problem_key(p), p) for p in recorded]
    return (*merged, *reported.values())


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class _Marker:
    """Marks problems overridden or acknowledged, and records which overrides applied."""

    update: Update
    overrides: Overrides
    acknowledged: dict[str, Acknowledgement]

    def mark(self, problems: Sequence[Problem]) -> tuple[Problem, ...]:
        marked = []
        for problem in problems:
            entry = self.overrides.match(self.update.source, self.update.version, problem)
            ack = None if entry is not None else self.acknowledged.get(problem_key(problem))
            marked.append(replace(problem, overridden=entry is not None, acknowledged=ack))
        return tuple(marked)

    def applied(self, problems: Sequence[Problem]) -> tuple[str, ...]:
        entries = (
            self.overrides.match(self.update.source, self.update.version, p) for p in problems
        )
        return tuple(dict.fromkeys(e for e in entries if e is not None))


def decide(
    update: Update,
    check: CrashCheck,
    overrides: Overrides,
    halt: Halt | None,
    now: datetime,
    step: int,
    interval: timedelta,
    *,
    standing: Standing | None = None,
    resumed: Resume | None = None,
    phaser: str | None = None,
    freeze: FreezeCalendar | None = None,
) -> Decision:
    level = update.percentage
    standing = standing or Standing()
    acknowledged = dict(standing.acknowledged)
    stop = standing.stop
    by: str | None = None

    def acknowledge(problems: Iterable[Problem], ack: Acknowledgement) -> None:
        for problem in problems:
            acknowledged.setdefault(problem_key(problem), ack)

    # 2. A person's stop on Launchpad, unless a later `resume` lifted it.
    lowered = person_stop(update, phaser)
    if lowered is not None and resumed is not None and resumed.at > lowered.date_created:
        lowered = None

    # 3. A person's raise or a `resume` ends the stop in force; the problems on record
    # then count as acknowledged by that person.
    raised = person_raise(update, phaser)
    if raised is not None and (stop is None or raised.date_created > stop.at):
        by = _who(raised.set_by)
        if stop is not None:
            how = f"raised it to {level}% on Launchpad"
            acknowledge(stop.problems, Acknowledgement(by, raised.date_created, how))
            stop = None
    resumed_by_person = False
    if resumed is not None and lowered is None and halt is None:
        if stop is not None and resumed.at > stop.at:
            how = f"resumed it: {resumed.reason}"
            acknowledge(stop.problems, Acknowledgement(resumed.by, resumed.at, how))
            stop, resumed_by_person = None, True
        elif stop is None and level == 0 and resumed.at > update.since:
            # A lifted halt, or an update released at 0: back to its peak, unless a
            # problem the Error Tracker reports stops it again.
            resumed_by_person = True
    if resumed_by_person and resumed is not None:
        by = resumed.by

    marker = _Marker(update, overrides, acknowledged)
    problems = marker.mark(check.problems)
    applied = marker.applied(check.problems)

    # 4. A stop the phaser wrote on Launchpad but no decision recorded.
    adopted = False
    if stop is None and halt is None and lowered is None and not resumed_by_person:
        written = stop_on_launchpad(update, phaser)
        if written is not None and (raised is None or written.date_created > raised.date_created):
            stop = StopRecord(
                at=written.date_created,
                from_percentage=written.previous_percentage or 0,
                problems=tuple(_on_record(p, now) for p in check.problems),
                causes_recorded=any(not p.resolved for p in problems),
            )
            adopted = True

    def standing_after(stop_after: StopRecord | None) -> Standing:
        return Standing(stop_after, tuple(acknowledged.items()))

    def decision(
        action: Action,
        state: State,
        target: int,
        reason: str,
        *,
        shown: tuple[Problem, ...] | None = None,
        stop_after: StopRecord | None = None,
        from_percentage: int = level,
        since: datetime | None = None,
        next_step: datetime | None = None,
    ) -> Decision:
        next_step_at = None
        if next_step is not None:
            next_step_at = next_step
        elif state is State.PHASING and target == level and target < FULLY_PHASED:
            next_step_at = (since or update.since) + minimum_wait(interval)
        elif state is State.PHASING and target != level:
            next_step_at = now + minimum_wait(interval)
        return Decision(
            action=action,
            state=state,
            from_percentage=from_percentage,
            to_percentage=target,
            highest_percentage=max(update.highest_percentage, target, from_percentage),
            since=since or (now if target != level else update.since),
            next_step_at=next_step_at,
            reason=reason,
            problems=shown if shown is not None else problems,
            overrides_applied=applied,
            standing=standing_after(stop_after),
            by=by,
        )

    # 1. Halted by hand with `phased-updater halt`.
    if halt is not None:
        action = Action.HALT if level != 0 or not update.consistent else Action.KEEP_STOPPED
        by = halt.by
        return decision(action, State.HALTED, 0, f"halted by {halt.by}: {halt.reason}")

    # 2. A person's stop: held as it is, whatever the Error Tracker says.
    if lowered is not None:
        by = _who(lowered.set_by)
        was = lowered.previous_percentage
        reason = (
            f"stopped by {by} on Launchpad at {_at(lowered.date_created)} (from {was}% to"
            f" {lowered.percentage}%): the phaser never raises it; a person raises it on"
            " Launchpad or runs resume"
        )
        return decision(Action.HOLD, State.HALTED, level, reason, since=lowered.date_created)

    # 5. No answer from the Error Tracker: nothing changes.
    if check.failure is not None:
        state = State.STOPPED if stop is not None else State.UNKNOWN
        shown = marker.mark(stop.problems) if stop is not None else problems
        return decision(
            Action.UNKNOWN,
            state,
            level,
            f"Error Tracker failed: {check.failure}",
            shown=shown,
            stop_after=stop,
        )

    # 4 and 6. A stop in force: sticky until every problem on record is resolved.
    if stop is not None:
        merged = _merge(stop.problems, tuple(_on_record(p, now) for p in check.problems))
        current = {problem_key(p) for p in check.problems}
        shown = tuple(
            replace(p, last_reported=None) if problem_key(p) in current else p
            for p in marker.mark(merged)
        )
        open_problems = [p for p in shown if not p.resolved]
        stop_after = replace(stop, problems=merged)
        if adopted:
            reason = (
                f"stopped by the phaser at {_at(stop.at)} (from {stop.from_percentage}%),"
                " as Launchpad records; no run recorded the stop"
            )
            if stop.causes_recorded:
                reason += f", so its problems are those reported now: {_describe(open_problems)}"
            else:
                reason += (
                    ", and the Error Tracker reports nothing now: its causes were not recorded"
                )
            return decision(
                Action.STOP,
                State.STOPPED,
                0,
                reason,
                shown=shown,
                stop_after=stop_after,
                from_percentage=stop.from_percentage if level == 0 else level,
                since=stop.at if level == 0 else None,
            )
        if open_problems or not stop.causes_recorded:
            action = Action.KEEP_STOPPED if level == 0 and update.consistent else Action.STOP
            if open_problems:
                reason = f"stopped on {_describe(open_problems)}"
                quiet = [p for p in open_problems if p.last_reported is not None]
                if quiet:
                    reason += f"; {_plural(len(quiet), 'problem')} not reported since"
                    reason += f" {_at(min(p.last_reported for p in quiet if p.last_reported))}"
                    reason += ", which does not lift the stop"
            else:
                reason = (
                    "stopped; the problems that caused it were not recorded: a person resumes it"
                )
            return decision(
                action,
                State.STOPPED,
                0,
                reason,
                shown=shown,
                stop_after=stop_after,
                since=stop.at if level == 0 and update.consistent else None,
            )
        # Every problem on record is resolved: the stop ends.
        problems = shown

    # 7. Nothing to compare with: held for a person, unless one let it phase.
    allowed_unchecked = overrides.unchecked(update.source, update.version) or resumed is not None
    if check.no_comparison is not None and not allowed_unchecked:
        reason = (
            f"{check.no_comparison}: held at {level}% until a person lets it phase without"
            " the checks (an `unchecked` override, or resume)"
        )
        return decision(Action.HOLD, State.HELD, level, reason)

    # 8. A problem nobody resolved: stop at 0, and record why.
    remaining = [p for p in problems if not p.resolved]
    if remaining:
        stop_after = StopRecord(now, level, tuple(_on_record(p, now) for p in check.problems))
        if level == 0 and update.consistent:
            return decision(
                Action.KEEP_STOPPED,
                State.STOPPED,
                0,
                f"stopped on {_describe(remaining)}",
                stop_after=stop_after,
            )
        return decision(
            Action.STOP,
            State.STOPPED,
            0,
            f"stopped on {_describe(remaining)}",
            stop_after=stop_after,
        )

    # Resumed: every problem of the stop resolved, or a person resumed it.
    if stop is not None or resumed_by_person:
        target = update.highest_percentage or min(step, FULLY_PHASED)
        if resumed_by_person and resumed is not None:
            reason = f"resumed by {resumed.by} at {_at(resumed.at)}: {resumed.reason}"
        else:
            count = len(applied)
            reason = f"every problem of the stop is resolved ({_plural(count, 'override')}"
            reason += " applied); resuming"
        if target == level:
            state = State.COMPLETE if target == FULLY_PHASED else State.PHASING
            return decision(Action.WAIT, state, level, reason)
        # 11. Back to 100 is a completion: not in a freeze window.
        if freeze and target == FULLY_PHASED:
            frozen = freeze.refusing(now, completes=True)
            if frozen is not None:
                until = freeze.allowed_from(now, completes=True)
                reason += f"; {_frozen(frozen, until, completes=True)}"
                return decision(Action.WAIT, State.PHASING, level, reason, next_step=until)
        state = State.COMPLETE if target == FULLY_PHASED else State.PHASING
        return decision(Action.RESUME, state, target, reason)

    # 9. At 0 with no stop in force: it was released at 0.
    if level == 0:
        reason = "at 0% with no stop on record (it was released at 0%): held for a person"
        return decision(Action.HOLD, State.HALTED, 0, reason)

    # 10. Step up once the interval has passed; otherwise wait.
    unchecked = check.no_comparison is not None
    caveat = (
        f" (phasing without the Error Tracker's checks: {check.no_comparison})" if unchecked else ""
    )
    if raised is not None and raised.date_created >= update.since:
        caveat += f"; raised by {_who(raised.set_by)} on Launchpad at {_at(raised.date_created)}"
    waited = now - update.since
    if waited >= minimum_wait(interval):
        target = min(level + step, FULLY_PHASED)
        state = State.COMPLETE if target == FULLY_PHASED else State.PHASING
        reason = f"no regressions; at {level}% for {format_duration(waited)}{caveat}"
        # 11. A freeze window holds the step (to 100, or any in a no-steps window).
        completes = target == FULLY_PHASED
        frozen = freeze.refusing(now, completes=completes) if freeze else None
        if freeze and frozen is not None:
            until = freeze.allowed_from(now, completes=completes)
            reason += f"; {_frozen(frozen, until, completes=completes)}"
            return decision(Action.WAIT, State.PHASING, level, reason, next_step=until)
        return decision(Action.ADVANCE, state, target, reason)

    remaining_wait = format_duration(minimum_wait(interval) - waited)
    reason = (
        f"no regressions; at {level}% for {format_duration(waited)}, {remaining_wait} to go{caveat}"
    )
    # Its next step may fall in a freeze window: then it comes when the window ends.
    due = update.since + minimum_wait(interval)
    completes = level + step >= FULLY_PHASED
    next_step = freeze.allowed_from(due, completes=completes) if freeze else None
    return decision(Action.WAIT, State.PHASING, level, reason, next_step=next_step)


def _frozen(window: FreezeWindow, until: datetime, *, completes: bool) -> str:
    """e.g. "completes after Mon 12:00 UTC (freeze window Fri 00:00-Mon 12:00)"."""
    what = "completes" if completes else "steps"
    return f"{what} after {week_moment(until)} UTC (freeze window {window})"


def _describe(problems: Sequence[Problem]) -> str:
    """e.g. "2 problems not overridden (increased-rate, new-crash)"."""
    kinds = ", ".join(sorted({str(p.kind) for p in problems}))
    return f"{_plural(len(problems), 'problem')} not overridden ({kinds})"
