"""The one base class for mistakes a user can make (a path, a config, a query).

The CLI turns any of these into a one-line message, a hint, and an exit code;
never a traceback.
"""

from __future__ import annotations


class NewsdeskError(Exception):
    """A problem to explain to the user, not a bug."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint
