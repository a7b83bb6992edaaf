"""User-facing errors, each with the documented exit code the CLI returns."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DATA_MISSING = 3
EXIT_SOURCE_FAILED = 4
EXIT_NOT_DONE = 5


class NowcastError(Exception):
    """An expected failure shown to the user as one line, without a traceback."""

    exit_code = EXIT_FAILURE


class ConfigError(NowcastError):
    """Bad usage or configuration: a key, a type, a path or an option is wrong."""

    exit_code = EXIT_USAGE


class DataMissingError(NowcastError):
    """The archive, a checkpoint or input data the command needs is not there."""

    exit_code = EXIT_DATA_MISSING


class SourceError(NowcastError):
    """An upstream source could not be reached or did not answer usefully."""

    exit_code = EXIT_SOURCE_FAILED


class NotDoneError(NowcastError):
    """The command ran but did not do what was asked: a check failed, nothing was scored."""

    exit_code = EXIT_NOT_DONE


def error_with_code(code: int, message: str) -> NowcastError:
    """A one-line error that exits with `code` (one of the documented codes above)."""
    error = NowcastError(message)
    error.exit_code = code
    return error
