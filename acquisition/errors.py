"""User-facing errors: the one module of error types, for every library and the app.

Every problem a user can cause or meet (bad value, missing file, malformed file, missing device,
unreachable database, full disk, a helper process that failed) is raised as a :class:`MexlabError`
whose message names what is wrong and where. The command line prints that message alone and exits
non-zero (:attr:`MexlabError.exit_code`); no traceback reaches the user.

Raise the subtype that says what a caller can do about it; catch :class:`MexlabError` to handle
them all. The types, by what the caller can act on:

============================  ===================================================================
:class:`InputError`           a value or option the user gave is wrong (out of range, unknown name,
                              contradictory options): ask again. ``BadValue`` is the same class.
:class:`NotFoundError`        a file, folder, session, stream, coder or model asked for is not there
:class:`FileFormatError`      a file is there but is not what it should be (malformed CSV, sheet,
                              JSON, model or video file): fix or replace the file
:class:`DataError`            the input is well formed but cannot give the result asked for (too
                              few subjects, no face found, a flat signal)
:class:`DeviceError`          a camera is missing, busy, or cannot deliver the mode asked for
:class:`OutputError`          the output folder exists, cannot be created or written, disk full
:class:`CatalogError`         the session catalog (database) cannot be reached or used
:class:`ServiceError`         a helper process or network peer (Flower coordinator or site,
                              LabRecorder) failed, timed out or cannot be reached
:class:`InstallError`         a part of mexlab or a package it needs is missing or damaged
:class:`Cancelled`            the user stopped a long operation; nothing was written
============================  ===================================================================

Narrower types kept from before: :class:`SessionFormatError` and :class:`CameraFileError` are
:class:`FileFormatError`\\ s, :class:`StreamNotFoundError` is a :class:`NotFoundError`.
``protocols.errors.ProtocolError`` (a protocol that cannot be run as written) is a
:class:`FileFormatError`.

This module lives in ``acquisition`` because that is the lowest library: every other library and
the app may import it, and it imports nothing.
"""

from __future__ import annotations

__all__ = [
    "BadValue",
    "CameraFileError",
    "Cancelled",
    "CatalogError",
    "DataError",
    "DeviceError",
    "FileFormatError",
    "InputError",
    "InstallError",
    "MexlabError",
    "NotFoundError",
    "OutputError",
    "ServiceError",
    "SessionFormatError",
    "StreamNotFoundError",
]


class MexlabError(Exception):
    """An error with a message meant for the user. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(MexlabError):
    """A value or option the user gave is wrong: out of range, an unknown name, contradictory."""


BadValue = InputError


class NotFoundError(MexlabError):
    """A file, folder, session, stream, coder or model asked for is not there."""


class FileFormatError(MexlabError):
    """A file is there but is not what it should be (malformed, truncated, another format)."""


class DataError(MexlabError):
    """The input is well formed but cannot give the result asked for (too little or unusable data)."""


class DeviceError(MexlabError):
    """A camera is missing, busy, or cannot deliver the mode asked for."""


class CameraFileError(FileFormatError):
    """A camera file is missing, unreadable, or not a RealSense recording."""


class StreamNotFoundError(NotFoundError):
    """An LSL stream asked for was not found on the network in time."""


class OutputError(MexlabError):
    """The output folder exists, cannot be created, or the disk is full."""


class CatalogError(MexlabError):
    """The session catalog (database) cannot be reached or used."""


class SessionFormatError(FileFormatError):
    """A session folder or a file in it is malformed."""


class ServiceError(MexlabError):
    """A helper process or network peer (Flower coordinator or site, LabRecorder) failed, timed
    out or cannot be reached."""


class InstallError(MexlabError):
    """A part of mexlab (the face model, a helper program) or a package it needs is missing or
    damaged: reinstall."""


class Cancelled(MexlabError):
    """The user stopped a long operation before it finished; nothing was written."""
