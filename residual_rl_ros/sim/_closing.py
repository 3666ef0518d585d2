"""`with make_task(...) as task:` for every simulated task: leaving the block closes it."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar('T', bound='ClosesOnExit')


class ClosesOnExit:
    """Mixin for a task with a `close()`: a context manager that closes it on exit."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: T) -> T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
