"""The few ways a registry operation fails; the API maps each to one HTTP status.

Messages name the object and the offending value, so the API can return them verbatim.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every registry error."""


class NotFoundError(RegistryError):
    """The addressed object does not exist (HTTP 404)."""


class ConflictError(RegistryError):
    """The request contradicts the stored state: duplicate id, wrong task state (HTTP 409)."""


class InvalidTransitionError(ConflictError):
    """A task cannot move from its current state to the requested one."""

    def __init__(self, task_id: int, from_state: str, to_state: str,
                 allowed: tuple[str, ...]) -> None:
        self.task_id = task_id
        self.from_state = from_state
        self.to_state = to_state
        self.allowed = allowed
        options = ", ".join(allowed) if allowed else "none: the task is finished"
        super().__init__(
            f"task {task_id}: cannot go from '{from_state}' to '{to_state}' "
            f"(allowed from '{from_state}': {options})"
        )


class InvalidInputError(RegistryError):
    """The values are well-formed but unusable: empty close note, unknown tree (HTTP 422)."""
