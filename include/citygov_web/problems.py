"""How the dispute API and the pages answer a request they refuse: one error model, ``{code, detail}``
(plus ``errors`` for a request that does not match the schema), documented per route with
:func:`errors`, and never quoting more than a short excerpt of the input (:func:`citygov.bounds.quoted`).

A new route declares the statuses it can answer besides its success in one line::

    @app.get("/disputes/{dispute_id}/locate", response_model=..., responses=errors(401, 403, 404, 422))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field

from citygov.bounds import EXCERPT_MAX, quoted

UNPROCESSABLE = 422
"""The status of a request whose values are refused (Starlette renamed its constant to
``HTTP_422_UNPROCESSABLE_CONTENT`` after RFC 9110 and deprecated ``HTTP_422_UNPROCESSABLE_ENTITY``; the
number is the same under every version)."""

PROBLEMS_SHOWN = 20
"""At most this many schema mismatches are listed in one reply."""

CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_request",
}
"""The ``code`` of a refusal that does not come from the queue itself (authentication, routing, schema)."""

DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read (not UTF-8 JSON): `bad_request`.",
    401: "Not logged in: no Bearer token or session cookie, or it expired: `not_authenticated`.",
    403: "Refused: an invalid token or an Airflow role without this access (`forbidden`), a cookie-authenticated "
         "request from another site (`cross_site`), a user not registered on the queue (`unknown_user`), a "
         "queue role that may not do this (`not_permitted`).",
    404: "No dispute with that id: `not_found`.",
    409: "The workflow does not allow the move (`illegal_transition`) or the item changed since it was read "
         "(`version_conflict`); nothing was changed.",
    422: "A value outside its documented bounds or of the wrong type (`invalid_request`, with `errors`), or "
         "refused by the queue (`invalid_input`: unknown state, dataset, unit, empty or too long text).",
}


class FieldProblem(BaseModel):
    """Where a request does not match the schema."""

    loc: list[str] = Field(description="where: path, query or body, then the field")
    msg: str = Field(description="what is wrong")
    type: str = Field(description="pydantic's error type (missing, int_parsing, less_than_equal, ...)")
    input: str | None = Field(None, description=f"an excerpt of the value given (at most {EXCERPT_MAX} characters)")


class ErrorReply(BaseModel):
    """Every refusal: nothing was changed."""

    code: str = Field(description="what kind of refusal; see each status")
    detail: str = Field(description="what was wrong and what to do, for a person")
    errors: list[FieldProblem] | None = Field(None, description="for `invalid_request`: each mismatch")


class Refusal(HTTPException):
    """An HTTP refusal with a ``code`` of its own (``cross_site``) instead of the status's default."""

    def __init__(self, status_code: int, detail: str, code: str) -> None:
        super().__init__(status_code, detail)
        self.code = code


def error_code(exc: Exception, status_code: int) -> str:
    return getattr(exc, "code", None) or CODES.get(status_code, "error")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that may answer ``statuses`` besides its success, each with
    :class:`ErrorReply` and what it means here."""
    return {s: {"model": ErrorReply, "description": DESCRIPTIONS[s]} for s in statuses}


def field_problems(raw: Sequence[dict[str, Any]]) -> list[FieldProblem]:
    """pydantic/FastAPI validation errors as :class:`FieldProblem` (the input quoted as an excerpt)."""
    return [
        FieldProblem(loc=[str(p) for p in e.get("loc", ())], msg=str(e.get("msg", ""))[:EXCERPT_MAX * 2],
                     type=str(e.get("type", "")), input=quoted(e["input"]) if "input" in e else None)
        for e in list(raw)[:PROBLEMS_SHOWN]
    ]


def summary(problems: Iterable[FieldProblem]) -> str:
    """One line for a person: ``query.page: Input should be less than or equal to 1000000; ...``."""
    return "; ".join(f"{'.'.join(p.loc)}: {p.msg}" for p in problems) or "the request does not match the schema"


def nul_refusal(request: Any) -> HTTPException | None:
    """The refusal of a request whose path (404) or a query parameter (422) holds a NUL character, which no
    page or item is named with and PostgreSQL cannot even compare; None for any other request."""
    if "\x00" in request.scope.get("path", ""):
        return HTTPException(404, "no such page: the path holds a NUL character")
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            return HTTPException(422, f"query parameter {quoted(name)} holds a NUL character (\\x00); remove it")
    return None


def allowed_methods(app: Any, scope: dict[str, Any]) -> list[str]:
    """Every method some route of ``app`` answers at the path of ``scope`` (for a 405's ``Allow``):
    Starlette names only the first route that matched the path, so ``POST`` on a path served by a
    ``GET`` and a ``POST`` route would be left out."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


STORE_OUT_OF_DATE = (
    "治理库的结构版本与本版本 citygov 不符 the governance store's schema does not match this version of citygov: "
    "an administrator must run `govern store upgrade` (or `make init`) and reload"
)
"""What a page or the API answers (503) while the store is at another schema revision
(:class:`citygov.store.StoreOutOfDate`); the store's address goes to the server log only."""

