"""Expected errors, and the one place that turns them into Waldur's error bodies.

Every error body is a JSON object in DRF's shape: a field map for validation
errors ({"subject": ["This field is required."]}), or {"detail": "..."}.
Nothing that reaches the client is a bare 500 traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from herald.api.responses import JSONResponse
from herald.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable

logger = logging.getLogger("herald.api")

ErrorBody = dict[str, Any]


class APIError(Exception):
    status_code = 400

    def __init__(self, body: ErrorBody, headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.body = body
        self.headers = headers


class PayloadTooLarge(APIError):
    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            {"detail": f"The request body is larger than {limit} bytes (HERALD_MAX_BODY_BYTES)."}
        )


class NotAuthenticated(APIError):
    status_code = 401

    def __init__(self, detail: str = "Authentication credentials were not provided.") -> None:
        super().__init__({"detail": detail}, headers={"WWW-Authenticate": "Token"})


class PermissionDenied(APIError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__({"detail": "You do not have permission to perform this action."})


class CrossSiteRefused(APIError):
    """A change by cookie that did not come from Herald's own pages (SPEC 8)."""

    status_code = 403

    def __init__(self, detail: str) -> None:
        super().__init__({"detail": detail})


class UnsupportedMediaType(APIError):
    status_code = 415

    def __init__(self, media_type: str) -> None:
        super().__init__({"detail": f'Unsupported media type "{media_type}" in request.'})


def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return JSONResponse(exc.body, status_code=exc.status_code, headers=exc.headers)


# The one translation of Herald's own refusals into HTTP.
_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Invalid, 400),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 503),
)


def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status = next(code for kind, code in _DOMAIN_STATUS if isinstance(exc, kind))
    # Out of reach for now: say when to ask again, as for the database.
    headers = {"Retry-After": "30"} if status == 503 else None
    return JSONResponse(exc.body, status_code=status, headers=headers)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = exc.headers
    if exc.status_code == 405:
        body: ErrorBody = {"detail": f'Method "{request.method}" not allowed.'}
        # Starlette names the methods of the first route that matched the path
        # only; GET and POST on one path are two routes. Name them all.
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
    elif exc.status_code == 404:
        body = {"detail": "Not found."}
    else:
        body = {"detail": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """The methods of every route for this path. A path that a route names
    literally (`/render/`) is that route's alone, though `/{uuid}/` matches it too."""
    literal: set[str] = set()
    templated: set[str] = set()
    routes = list(request.app.router.routes)
    while routes:
        route = routes.pop()
        inner = getattr(route, "original_router", route)  # an included router: look inside
        if hasattr(inner, "routes"):
            routes.extend(inner.routes)
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            found = literal if "{" not in getattr(route, "path", "{") else templated
            found |= getattr(route, "methods", None) or set()
    return sorted(literal or templated)


def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    # Endpoints take raw strings and validate them themselves; this only
    # catches what FastAPI checks before them, in the same DRF shape.
    assert isinstance(exc, RequestValidationError)
    body: ErrorBody = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        key = location[-1] if location else "non_field_errors"
        body.setdefault(key, []).append(error.get("msg", "Invalid value."))
    return JSONResponse(body, status_code=400)


def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Not the request's fault (a lock held past the busy timeout, a database
    # that is down): say so, and that trying again may work.
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "The database is busy or unavailable; try again shortly."},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "Internal server error."}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
