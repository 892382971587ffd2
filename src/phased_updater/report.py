"""Publishing the report of a run into the report directory."""

from __future__ import annotations

import logging
from pathlib import Path

from phased_updater import report_json
from phased_updater.publish import write_atomically
from phased_updater.store import RunRecord, Store

log = logging.getLogger(__name__)

JSON_NAME = "phased-updates.json"


def publish(report_dir: Path, store: Store, run: RunRecord) -> list[Path]:
    """Write every report file for `run`; each file is replaced atomically."""
    data = report_json.build(store, run)
    json_path = report_dir / JSON_NAME
    write_atomically(json_path, report_json.render(data))
    return [json_path]
