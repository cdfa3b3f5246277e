"""The shape every route keeps (issue 15): thin handlers, and every answer documented.

A handler parses the request, calls one service method and shapes the answer: its body (with
signature and docstring, decorators aside) stays within ``MAX_HANDLER_LINES`` lines, or the
logic it holds belongs in a service. Every operation in the OpenAPI document declares a 2xx
answer: a JSON schema, a binary media type (downloads, thumbnails), or, for tus's header-only
answers, no body and the headers it carries.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from balupi.app import create_app
from balupi.config import Settings

MAX_HANDLER_LINES = 16


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every ``APIRoute``, also inside included routers (``_IncludedRouter.original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
            continue
        inner = getattr(route, "routes", None)
        if inner is None:
            inner = getattr(getattr(route, "original_router", None), "routes", None)
        if inner:
            yield from _api_routes(inner)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)  # not started: only its routes and schema are read


def _handler_lines(route: APIRoute) -> int:
    source, _ = inspect.getsourcelines(route.endpoint)
    return sum(1 for line in source if line.strip() and not line.strip().startswith("@"))


def test_the_routes_are_found(app: FastAPI) -> None:
    paths = {route.path for route in _api_routes(app.routes)}
    assert {"/api/health", "/api/nas/history", "/api/files/tus", "/api/sync/preflight"} <= paths


def test_handlers_are_thin(app: FastAPI) -> None:
    long = {
        f"{route.endpoint.__module__}.{route.endpoint.__name__}": lines
        for route in _api_routes(app.routes)
        if (lines := _handler_lines(route)) > MAX_HANDLER_LINES
    }
    assert long == {}


def _documented(status: str, answer: dict[str, Any]) -> bool:
    content: dict[str, Any] = answer.get("content") or {}
    json_schema = content.get("application/json", {}).get("schema")
    if json_schema:
        return True
    if any(media != "application/json" for media in content):
        return True  # a declared binary answer: application/octet-stream, image/jpeg
    return not content and bool(answer.get("headers"))  # tus: no body, its headers declared


def test_every_operation_documents_its_answer(app: FastAPI) -> None:
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if not any(
            _documented(status, answer)
            for status, answer in operation.get("responses", {}).items()
            if status.startswith("2")
        )
    ]
    assert undocumented == []


def test_binary_answers_name_their_media_type(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    download = paths["/api/files/download/{path}"]["get"]["responses"]["200"]["content"]
    thumbnail = paths["/api/files/thumbnail/{path}"]["get"]["responses"]["200"]["content"]
    assert list(download) == ["application/octet-stream"]
    assert list(thumbnail) == ["image/jpeg"]


def test_compatible_models_keep_baluhost_names(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    assert {"access_token", "token_type", "user"} <= set(schemas["TokenPublic"]["properties"])
    assert set(schemas["NasHistoryPublic"]["properties"]) >= {"from", "to", "transitions"}
    assert set(schemas["TransitionPublic"]["properties"]) >= {"at", "from", "to", "evidence"}
