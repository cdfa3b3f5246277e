"""Logging: structlog in front of the standard library, one format for BaluPi and Uvicorn.

Development prints readable console lines; production prints one JSON object per line (for the
journal). Request-scoped values such as ``request_id`` live in structlog's context variables and so
appear on every line logged while a request is handled.
"""

from __future__ import annotations

import logging
import sys
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
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # BaluPi logs its own access line with the request id; Uvicorn's would be a second copy.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # A line per scheduler run (every 5 s) and per request to the NAS or a plug would bury
    # everything else in the journal; they still show when DEBUG is asked for.
    debugging = logging.getLevelNamesMapping().get(level.upper(), logging.INFO) <= logging.DEBUG
    for chatty in ("apscheduler", "httpx"):
        logging.getLogger(chatty).setLevel(logging.NOTSET if debugging else logging.WARNING)

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
