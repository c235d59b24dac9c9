"""Errors a user can fix: the ``twist`` CLI prints them as one line on stderr, without a traceback.

Shared by every layer (the runner, the training loop, SAC's run files), so it imports nothing. Validation
code raises :class:`UserError` (or :class:`RunFileError`) with a message that says what is wrong
and what to do; :func:`twist_agents.runner.cli.main` catches it once, prints ``twist: error: <message>`` and
exits with :attr:`UserError.exit_code`. Library callers get an ordinary exception they can catch.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake on the command line or in the arguments of a runner function (exit code 2).

    Args:
        message: one line: what is wrong and what to do.
    """

    exit_code: int = 2
    """Exit code of the ``twist`` CLI (2: a usage error, as argparse's own)."""


class RunFileError(UserError):
    """A run directory that cannot be used (not a run, nothing in it loads); exit code 1."""

    exit_code = 1


def describe(e: BaseException) -> str:
    """``Type: first line of the message``: an exception as a fragment of a one-line report.

    Loader errors (torch, zipfile, pickle) often span several lines; a report names the cause in one.
    """
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


__all__ = ["RunFileError", "UserError", "describe"]
