"""Domain errors: each carries the polite Russian sentence that every adapter shows to the person."""

from __future__ import annotations


class DomainError(Exception):
    """Something a person asked for that the МЦУ refuses; `message` is shown to them as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    pass


class NotAllowed(DomainError):
    pass


class IllegalTransition(DomainError):
    def __init__(self, message: str, *, current: str, target: str) -> None:
        super().__init__(message)
        self.current = current
        self.target = target


class InvalidInput(DomainError):
    pass
