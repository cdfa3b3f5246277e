"""Logging: structlog in front of the standard library, one format for BaluPi and Uvicorn.

Development prints readable console lines; production prints one JSON object per line (for the
journal). Request-scoped values such as ``request_id`` live in structlog's context variables and so
appear on every line logged while a request is handled.
"""

from __future__ import annotations

import errno
import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog


def _drop_color_message(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    # Uvicorn passes a coloured copy of its message as an "extra"; the renderer colours itself.
    event.pop("color_message", None)
    return event


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
    _drop_color_message,
]


def configure_logging(*, json_lines: bool, level: str = "INFO") -> None:
    """Route structlog and stdlib logging (Uvicorn's too) through one handler on stderr.

    Safe to call more than once: it replaces the root handler instead of adding another.
    """
    exception_formatter: Any = structlog.processors.format_exc_info if json_lines else _keep
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        # rich, where installed, would render every local of every frame: seconds per error.
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            exception_formatter,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(FloodFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # BaluPi logs its own access line with the request id; Uvicorn's would be a second copy.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # A line per request to the NAS or a plug would bury everything else in the journal; they
    # still show when DEBUG is asked for.
    debugging = logging.getLevelNamesMapping().get(level.upper(), logging.INFO) <= logging.DEBUG
    logging.getLogger("httpx").setLevel(logging.NOTSET if debugging else logging.WARNING)

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _keep(logger: Any, method: str, event: dict[str, Any]) -> dict[str, Any]:
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for a module: ``log = get_logger(__name__)``."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


class Throttle:
    """At most one log line per condition per interval; what happens in between is counted.

    A LAN client can cause the same condition thousands of times a second (a connection flood,
    slow request heads, an exhausted open-files limit): logged each time, that buried the
    journal (118 MB in 10 s). ``due(condition)`` says whether to log now, and how often the
    condition happened since its last line.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()  # logging may happen from worker threads too

    def due(self, condition: str) -> int | None:
        """None if ``condition`` was logged within the interval (counted for the next line);
        else the number of times it happened since it was last logged, this time included."""
        with self._lock:
            now = self._clock()
            count = self._counts.get(condition, 0) + 1
            last = self._last.get(condition)
            if last is not None and now - last < self.interval:
                self._counts[condition] = count
                return None
            self._last[condition] = now
            self._counts[condition] = 0
            return count


_OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE})


def _flood_condition(record: logging.LogRecord) -> str | None:
    """The condition a record reports if it is one a client can repeat at will, else None."""
    message = record.getMessage()
    if message.startswith("socket.accept() out of system resource"):
        return "accepting connections: out of system resources"
    if record.name.startswith("uvicorn") and message.startswith("Invalid HTTP request"):
        return "invalid HTTP requests"
    error = record.exc_info[1] if record.exc_info else None
    if isinstance(error, OSError) and error.errno in _OUT_OF_FILES:
        return "too many open files"
    return None


class FloodFilter(logging.Filter):
    """Lets through one line per repeatable condition per minute, with a count and no traceback.

    Conditions: the accept loop out of file descriptors, invalid HTTP requests, any error that
    is "too many open files". Everything else passes untouched.
    """

    def __init__(self, throttle: Throttle | None = None) -> None:
        super().__init__()
        self._throttle = throttle or Throttle()

    def filter(self, record: logging.LogRecord) -> bool:
        condition = _flood_condition(record)
        if condition is None:
            return True
        count = self._throttle.due(condition)
        if count is None:
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg, record.args = condition, ()
        record.exc_info, record.exc_text = None, None
        record.occurrences = count  # since the last line; ExtraAdder shows it
        record.once_per_seconds = int(self._throttle.interval)
        if error is not None:
            record.error = str(error)
        return True
