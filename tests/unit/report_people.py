"""What `report_db.realistic` leaves out, for the report's rows: who made each upload,
its debs on every architecture (as the run's summary keeps them, `cycle.uploads`), and
the mail about it.

libfoo was uploaded by ~ulla and sponsored by ~sam, who hides their address: the mail
went to Ulla and the Cc list, and says Sam was not reached. zed was signed and made by
~zoe. cryptkit's message was skipped. Addresses are stored, as the outbox does, so a
test can check that none reaches the page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from phased_updater.mail import outbox
from phased_updater.mail.message import Recipient
from phased_updater.store import Store
from tests.unit.report_db import NOW, Simulation

PEOPLE = "http://lp.test/devel/~{}"
ULLA_ADDRESS = "ulla@example.com"
CC_ADDRESS = "sru-watch@example.com"
SAM_NOT_REACHED = "signer ~sam: hides their email address"


def add(sim: Simulation, run_id: int, at: datetime = NOW) -> None:
    store: Store = sim.store
    plans = {plan.source: plan for plan in sim.plans}
    libfoo = plans["libfoo"].update()
    [deb] = libfoo.binaries
    binaries = (
        replace(deb, name="libfoo1"),
        replace(deb, name="libfoo1", arch_link=deb.arch_link.replace("amd64", "arm64")),
        replace(deb, name="libfoo-dev"),
        replace(deb, name="libfoo1-dbgsym", is_debug=True),
    )
    uploads = [
        (libfoo, "sam", "ulla", binaries),
        (plans["zed"].update(), "zoe", "zoe", plans["zed"].update().binaries),
    ]
    store.note_run(
        run_id,
        "uploads",
        [
            {
                "series": update.series.name,
                "source": update.source,
                "version": update.version,
                "signer_link": PEOPLE.format(signer),
                "creator_link": PEOPLE.format(creator),
                "binaries": [[b.name, b.arch_link, b.percentage] for b in debs if not b.is_debug],
            }
            for update, signer, creator, debs in uploads
        ],
    )
    with store.transaction() as db:
        for source, status in (
            ("libfoo", outbox.Status.PENDING),
            ("cryptkit", outbox.Status.SKIPPED),
        ):
            plan = plans[source]
            outbox.queue(
                db,
                key=f"stop {source}",
                run_id=1,
                series=plan.series.name,
                source=source,
                version=plan.version,
                signer_link=None,
                creator_link=None,
                subject=f"{source} stopped",
                body="...",
                queued_at=at,
                status=status,
                last_error="nobody to send it to: no address found"
                if source == "cryptkit"
                else None,
            )
    [message] = outbox.pending(store)
    recipients = (Recipient("Ulla Uploader", ULLA_ADDRESS), Recipient("", CC_ADDRESS))
    outbox.set_recipients(store, message.id, recipients, (SAM_NOT_REACHED,))
    outbox.mark_sent(store, message.id, at)
