"""docs/report.png from a report directory: `python -m tests.functional.report_screenshot
demo-out/report docs/report.png` after `make demo` (`make report-png` does both).

The page's clock is set to an hour after the report was generated, so the picture
never shows the staleness banner the machine's own clock would bring up.
"""

from __future__ import annotations

import base64
import re
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from tests.functional import cdp
from tests.functional.test_report_browser import CHROMIUM, clock_at

WIDTH, HEIGHT = 1280, 1600


def main(report_dir: Path, target: Path) -> int:
    page_file = report_dir / "index.html"
    found = re.search(r'<meta name="generated" content="([^"]+)">', page_file.read_text())
    if found is None:
        print(f"{page_file}: no generated time in it", file=sys.stderr)
        return 1
    generated = datetime.fromisoformat(found.group(1))
    with (
        tempfile.TemporaryDirectory() as profile,
        cdp.browser(CHROMIUM, Path(profile)) as (
            page,
            _connection,
        ),
    ):
        page.before_every_script(clock_at(generated + timedelta(hours=1)))
        page.viewport(WIDTH, HEIGHT)
        page.open(page_file.resolve().as_uri())
        shot = page.call("Page.captureScreenshot", format="png")
        target.write_bytes(base64.b64decode(shot["data"]))
        if page.problems:
            print("\n".join(page.problems), file=sys.stderr)
            return 1
    print(f"wrote {target} ({WIDTH}x{HEIGHT})")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
