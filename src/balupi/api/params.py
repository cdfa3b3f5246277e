"""Parameter types shared by the routes.

``RowId`` is an id a database row can have: SQLite stores integers in 64 bits, and a larger
Python int cannot even be bound to a query (``OverflowError``, a 500). Declaring the range on
the parameter answers such ids with FastAPI's 422 before anything is looked up.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from starlette.requests import Request

SQLITE_INTEGER_MAX = 2**63 - 1

RowId = Annotated[int, Ge(1), Le(SQLITE_INTEGER_MAX)]


def content_length(request: Request) -> int | None:
    """The request's declared ``Content-Length``, or None when it is missing or not a number."""
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None
