"""User-facing errors.

Every problem a user can cause or meet (bad value, missing device, unreadable file, unreachable
database, full disk) is raised as a :class:`MexlabError` whose message names what is wrong and where.
The command line prints that message alone and exits non-zero; no traceback reaches the user.
"""

from __future__ import annotations


class MexlabError(Exception):
    """An error with a message meant for the user. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class DeviceError(MexlabError):
    """A camera is missing, busy, or cannot deliver the mode asked for."""


class CameraFileError(MexlabError):
    """A camera file is missing, unreadable, or not a RealSense recording."""


class StreamNotFoundError(MexlabError):
    """An LSL stream asked for was not found on the network in time."""


class OutputError(MexlabError):
    """The output folder exists, cannot be created, or the disk is full."""


class CatalogError(MexlabError):
    """The session catalog (database) cannot be reached or used."""


class SessionFormatError(MexlabError):
    """A session folder or a file in it is malformed."""
