"""Expected errors of Herald's rules, defined outside the HTTP layer.

Services, jobs and the command line raise these; `api/errors.py` alone turns
them into Waldur's error bodies and statuses (Invalid 400, NotFound 404,
Conflict 409). A job catches exactly the one it means: the scheduler leaves
a message that reaches nobody (`NoRecipients`) scheduled, and another
process winning the race (`WrongState`) is no error at all.
"""

from __future__ import annotations

from typing import Any

ErrorBody = dict[str, Any]


class DomainError(Exception):
    """An expected refusal, with a body in DRF's shape (a field map or a detail)."""

    def __init__(self, body: ErrorBody) -> None:
        super().__init__(body)
        self.body = body


class Invalid(DomainError):
    """Input that breaks a rule: a field map; nested fields nest, list items are keyed by index."""

    @classmethod
    def field(cls, name: str, message: str) -> Invalid:
        return cls({name: [message]})


class NoRecipients(Invalid):
    """A message that would reach nobody cannot be sent."""

    def __init__(self) -> None:
        super().__init__({"detail": "The message has no recipients."})


class Forbidden(DomainError):
    """The caller may not do this at all (403), whatever the input."""

    def __init__(self, detail: str = "You do not have permission to perform this action.") -> None:
        super().__init__({"detail": detail})


class NotFound(DomainError):
    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__({"detail": detail})


class Conflict(DomainError):
    """The request is valid but the object's state (or an earlier request) forbids it."""

    def __init__(self, detail: str) -> None:
        super().__init__({"detail": detail})


class WrongState(Conflict):
    """Not in a state that allows the operation; the message names the ones that do."""

    @classmethod
    def valid_states(cls, *states: str) -> WrongState:
        names = ", ".join(state.capitalize() for state in states)
        return cls(f"Valid states for operation: {names}.")

    @classmethod
    def valid_delivery_statuses(cls, *statuses: str) -> WrongState:
        return cls(f"Valid delivery statuses for operation: {', '.join(statuses)}.")

    @classmethod
    def valid_review_statuses(cls, *statuses: str) -> WrongState:
        return cls(f"Valid review statuses for operation: {', '.join(statuses)}.")


class Unavailable(DomainError):
    """Something Herald needs to answer is out of reach for now (503, Retry-After)."""

    def __init__(self, detail: str) -> None:
        super().__init__({"detail": detail})


class WaitingForReview(Conflict):
    """A message waiting for staff review is not sent or scheduled by anything (SPEC 9)."""

    def __init__(self) -> None:
        super().__init__(
            "This message is waiting for staff review; approve or reject it, or edit it to "
            "withdraw the request."
        )
