"""User-facing errors, each with the documented exit code the CLI returns."""

from __future__ import annotations

import errno

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


MAX_MESSAGE_CHARS = 400
OS_ADVICE = {
    errno.ENOSPC: "the file system is full: free space there (or move the folder) and rerun",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota and rerun",
    errno.EROFS: "the file system is read-only: remount it writable or point the setting"
    " for this folder elsewhere",
    errno.EACCES: "permission denied: give this user write access or choose another folder",
    errno.EPERM: "operation not permitted: give this user access or choose another folder",
}


def one_line(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """A message as one line of at most `limit` characters (the rest elided)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe_os_error(exc: OSError, within: object = None) -> str | None:
    """A file-system failure (full, read-only, no permission) naming its path and the fix;
    `within` (a folder being written) stands in when the error names no file."""
    advice = OS_ADVICE.get(exc.errno or 0)
    if advice is None:
        return None
    if exc.filename is not None:
        where = exc.filename
    else:
        where = f"a file in {within}" if within is not None else "a file"
    return one_line(f"cannot write {where}: {exc.strerror}; {advice}")
