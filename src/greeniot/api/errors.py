"""Registry errors → HTTP answers: 404 not found, 409 conflict, 422 unusable input.

The body is ``{"detail": message}`` like FastAPI's own errors; a refused task transition adds
``from``, ``to`` and ``allowed`` so a client can show the valid next steps.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from greeniot.registry.errors import (
    ConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    RegistryError,
)

STATUS: tuple[tuple[type[RegistryError], int], ...] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (ConflictError, status.HTTP_409_CONFLICT),
    (InvalidInputError, status.HTTP_422_UNPROCESSABLE_CONTENT),
)


def _registry_error(_request: Request, exc: Exception) -> JSONResponse:
    code = next((c for kind, c in STATUS if isinstance(exc, kind)),
                status.HTTP_500_INTERNAL_SERVER_ERROR)
    body: dict[str, Any] = {"detail": str(exc)}
    if isinstance(exc, InvalidTransitionError):
        body |= {"from": exc.from_state, "to": exc.to_state, "allowed": list(exc.allowed)}
    return JSONResponse(body, status_code=code)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RegistryError, _registry_error)
