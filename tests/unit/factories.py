"""Small builders of model values for unit tests (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from phased_updater.model import BinaryPublication, Series, Update

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
JAMMY = Series("jammy", "22.04", "http://lp.test/devel/ubuntu/jammy")


def binary(
    name: str = "foo",
    percentage: int = 10,
    *,
    created: datetime = T0,
    arch: str = "amd64",
    debug: bool = False,
    set_by: str | None = None,
    previous: int | None = None,
) -> BinaryPublication:
    """A binary record; with `previous`, one `set_by` made by changing that level."""
    return BinaryPublication(
        self_link=f"http://lp.test/devel/ubuntu/+archive/primary/+binarypub/{name}-{arch}",
        name=name,
        arch_link=f"http://lp.test/devel/ubuntu/jammy/{arch}",
        percentage=percentage,
        is_debug=debug,
        date_created=created,
        set_by=set_by,
        previous_percentage=previous,
    )


PHASER = "http://lp.test/devel/~phasing-bot"
SRU_MEMBER = "http://lp.test/devel/~sru-steve"


def update(
    *binaries: BinaryPublication,
    source: str = "foo",
    version: str = "1.2-3ubuntu0.1",
    previous: str | None = "1.2-3",
    highest: int | None = None,
) -> Update:
    binaries = binaries or (binary(),)
    return Update(
        series=JAMMY,
        source=source,
        version=version,
        previous_version=previous,
        date_published=T0,
        self_link="http://lp.test/devel/ubuntu/+archive/primary/+sourcepub/1",
        signer_link=None,
        creator_link=None,
        binaries=binaries,
        highest_percentage=(
            highest
            if highest is not None
            else max(b.percentage for b in binaries if not b.is_debug)
        ),
    )
