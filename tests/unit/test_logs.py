"""Log lines: one JSON object per line on stderr, our events and stdlib loggers alike; an event
below its logger's level is not written, whatever set that level and whenever."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from app.logs import configure_logging


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    yield
    root.handlers, root.level = handlers, level
    logging.getLogger("gateway.test").setLevel(logging.NOTSET)


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_events_below_the_level_are_not_written_and_the_others_are_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING")
    log = structlog.get_logger("gateway.test")

    with structlog.contextvars.bound_contextvars(request_id="req_1"):
        log.debug("test.debug")
        log.info("test.info", detail=1)
        log.warning("test.warning", detail=2)
        log.error("test.error")
    logging.getLogger("uvicorn.error").warning("from %s", "stdlib")

    written = lines(capsys)
    assert [line["event"] for line in written] == ["test.warning", "test.error", "from stdlib"]
    warning = written[0]
    assert warning["detail"] == 2 and warning["request_id"] == "req_1"
    assert {"level", "logger", "timestamp"} <= warning.keys()
    assert warning["level"] == "warning" and warning["logger"] == "gateway.test"


def test_a_level_changed_after_configuration_is_followed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("WARNING")
    log = structlog.get_logger("gateway.test")
    log.info("test.before")

    logging.getLogger("gateway.test").setLevel(logging.INFO)
    log.info("test.lowered")
    logging.getLogger("gateway.test").disabled = True
    log.error("test.disabled")
    logging.getLogger("gateway.test").disabled = False

    assert [line["event"] for line in lines(capsys)] == ["test.lowered"]


def test_exception_is_an_error_with_its_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ERROR")
    log = structlog.get_logger("gateway.test")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("test.failed")

    (line,) = lines(capsys)
    assert line["level"] == "error" and "ValueError: boom" in str(line["exception"])
