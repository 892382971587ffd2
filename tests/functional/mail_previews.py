"""What a phaser's outbox and dry-run previews hold, as a person would read them."""

from __future__ import annotations

from email import message_from_bytes, policy

from phased_updater.config import Settings
from phased_updater.mail import outbox
from phased_updater.mail.session import SKIPPED_HEADER, email_off_reason
from phased_updater.store import Store


def describe(settings: Settings) -> str:
    """A short account of the mail queued or previewed so far, and where to read it."""
    off = email_off_reason(settings)
    lines = [off.capitalize() if off else f"Email via {settings.smtp_host}:{settings.smtp_port}"]
    if settings.state.exists():
        store = Store.open(settings.state)
        try:
            found = outbox.deliveries(store)
        finally:
            store.close()
        lines.append(f"Outbox in {settings.state}: {len(found)} message(s)")
        lines += [
            f"  {d.status:<8} {d.series} {d.source} {d.version}: {d.subject}"
            + (f" [{d.last_error}]" if d.last_error else "")
            for d in found
        ]
    preview_dir = settings.effective_mail_preview_dir
    previews = sorted(preview_dir.glob("*.eml")) if preview_dir.is_dir() else []
    if previews:
        lines.append(f"Dry-run previews in {preview_dir} (read one with: less FILE):")
        for path in previews:
            parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
            lines.append(f"  {path.name}")
            lines.append(f"    To: {parsed.get('To', '(nobody)')}")
            if parsed.get("Cc"):
                lines.append(f"    Cc: {parsed['Cc']}")
            lines.append(f"    Subject: {parsed['Subject']}")
            lines += [f"    not sent to {note}" for note in parsed.get_all(SKIPPED_HEADER, [])]
    return "\n".join(lines)
