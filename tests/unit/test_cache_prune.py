from __future__ import annotations

import os
from pathlib import Path

from phased_updater.sources.launchpad import CACHE_MAX_AGE_SECONDS, prune_cache

NOW = 2_000_000_000.0


def test_only_files_older_than_a_day_are_removed(tmp_path: Path) -> None:
    cache = tmp_path / "127.0.0.1:8080" / "cache"
    cache.mkdir(parents=True)
    old, fresh = cache / "old-listing", cache / "wadl"
    for path, age in ((old, CACHE_MAX_AGE_SECONDS + 1), (fresh, 60)):
        path.write_text("x")
        os.utime(path, (NOW - age, NOW - age))
    assert prune_cache(tmp_path, NOW) == 1
    assert not old.exists()
    assert fresh.exists()


def test_a_missing_cache_is_fine(tmp_path: Path) -> None:
    assert prune_cache(tmp_path / "nothing", NOW) == 0
