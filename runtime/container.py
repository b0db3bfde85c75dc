"""Typed lookup of the long-lived objects a process builds at start-up."""

from __future__ import annotations

from typing import Any, TypeVar, cast

T = TypeVar("T")


class MissingServiceError(LookupError):
    """A job or handler asked for a service the composition root never registered."""


class Container:
    """Map each service type to the one instance this process uses."""

    def __init__(self) -> None:
        self._services: dict[type[Any], object] = {}

    def register(self, kind: type[T], instance: T) -> None:
        """Register `instance` as the process's `kind`."""
        self._services[kind] = instance

    def get(self, kind: type[T]) -> T:
        """Return the registered `kind`, or raise MissingServiceError."""
        try:
            return cast(T, self._services[kind])
        except KeyError:
            raise MissingServiceError(kind.__qualname__) from None

    def find(self, kind: type[T]) -> T | None:
        """Return the registered `kind`, or None when this process has none."""
        return cast("T | None", self._services.get(kind))


_current: Container | None = None


def install(container: Container) -> Container:
    """Make `container` the one jobs and handlers look services up in."""
    global _current  # noqa: PLW0603 - one container per process, set by the composition root
    _current = container
    return container


def uninstall() -> None:
    """Forget the installed container (tests)."""
    global _current  # noqa: PLW0603
    _current = None


def current() -> Container:
    """Return the installed container; jobs fail loudly when the worker was not wired."""
    if _current is None:
        raise MissingServiceError("no service container installed in this process")
    return _current
