"""What can go wrong when someone acts on the queue. Every shell maps these the same way: the CLI prints
the message and exits 2, the web API answers with :attr:`DisputeError.http_status` and the message."""

from __future__ import annotations


class DisputeError(Exception):
    """A request the queue refuses; nothing was changed."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.message}


class DisputeNotFound(DisputeError):
    """No dispute with that id."""

    http_status = 404
    code = "not_found"


class InvalidInput(DisputeError):
    """A value is missing, empty, too long or unknown (state, department, dataset, column)."""

    http_status = 422
    code = "invalid_input"


class IllegalTransition(DisputeError):
    """The workflow does not allow this move from the item's current state."""

    http_status = 409
    code = "illegal_transition"


class UnknownActor(DisputeError):
    """The acting user is not registered as a dispute handler."""

    http_status = 403
    code = "unknown_user"


class NotPermitted(DisputeError):
    """The acting user's role (or department) does not allow this action."""

    http_status = 403
    code = "not_permitted"


class VersionConflict(DisputeError):
    """Someone else changed the item since it was read (optimistic locking); reload and retry."""

    http_status = 409
    code = "version_conflict"
