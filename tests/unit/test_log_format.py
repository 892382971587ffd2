"""The log's lines: syslog priorities for the journal, and one line per record whatever
the exception. Pure: records are formatted, nothing is written."""

from __future__ import annotations

import io
import logging

import httplib2
import pytest
from lazr.restfulclient.errors import ServerError

from phased_updater import log_format
from phased_updater.log_format import OneLineFormatter, priority


def record(level: int, message: str, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException as raised:
            exc_info = (type(raised), raised, raised.__traceback__)
    return logging.LogRecord("phased_updater.cycle", level, __file__, 1, message, (), exc_info)


def server_error() -> ServerError:
    response = httplib2.Response(
        {"status": "500", "content-type": "text/plain", "set-cookie": "session=secret"}
    )
    response.reason = "Internal Server Error"
    return ServerError(response, b"Traceback (most recent call last):\nAuthorization: OAuth x")


@pytest.mark.parametrize(
    ("level", "expected"),
    [(logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (50, 2)],
)
def test_levels_map_to_sd_daemon_priorities(level: int, expected: int) -> None:
    assert priority(level) == expected
    line = OneLineFormatter(journal=True).format(record(level, "hello"))
    assert line == f"<{expected}>phased_updater.cycle: hello"


def test_a_launchpadlib_error_is_one_line_without_headers_or_body() -> None:
    error = server_error()
    assert "Response headers" in str(error)  # what would otherwise reach the log
    for journal in (True, False):
        line = OneLineFormatter(journal=journal).format(
            record(logging.ERROR, "the cycle failed", error)
        )
        assert "\n" not in line
        assert "HTTP 500 Internal Server Error" in line
        assert "(at test_log_format.py:" in line
        for leaked in ("content-type", "session=secret", "Authorization", "Traceback"):
            assert leaked not in line


def test_a_message_with_line_breaks_stays_one_line() -> None:
    line = OneLineFormatter(journal=True).format(record(logging.WARNING, "a\nb\r\nc"))
    assert line == "<4>phased_updater.cycle: a b c"


def test_debug_adds_the_stack_one_frame_a_line_without_the_error_text() -> None:
    line = OneLineFormatter(journal=True, stack=True).format(
        record(logging.ERROR, "failed", server_error())
    )
    first, *frames = line.splitlines()
    assert first.startswith("<3>") and frames
    assert all(f.startswith("<7>phased_updater.cycle:   at ") for f in frames)
    assert "content-type" not in line


def test_configure_replaces_its_own_handler_and_refuses_an_unknown_level() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    first, second = io.StringIO(), io.StringIO()
    try:
        log_format.configure("info", {"JOURNAL_STREAM": "8:1"}, first)
        log_format.configure("warning", {}, second)
        logging.getLogger("phased_updater.test").warning("once")
        assert first.getvalue() == ""
        assert second.getvalue().endswith(" WARNING phased_updater.test: once\n")
        ours = [h for h in root.handlers if isinstance(h, log_format.EngineHandler)]
        assert [h.stream for h in ours] == [second]
        others = [h for h in before if not isinstance(h, log_format.EngineHandler)]
        assert all(h in root.handlers for h in others)  # left alone
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(logging.INFO)
    with pytest.raises(ValueError, match="log level 'loud'"):
        log_format.configure("loud")
