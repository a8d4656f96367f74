"""The service's errors: a client-caused error with its HTTP status, and the status of every engine API error."""

from __future__ import annotations


class ServiceError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def status_for(exc: Exception) -> int:
    """The HTTP status of an error a client caused (``engine.api.errors.USER_ERRORS``)."""
    from engine.api.work_folder import WorkFolderBusyError
    from engine.training.checkpoint import CheckpointError
    from saga_blender.core.errors import DiskFullError, SplatFileError

    if isinstance(exc, (WorkFolderBusyError, CheckpointError)):
        return 409
    if isinstance(exc, DiskFullError):
        return 507
    if isinstance(exc, SplatFileError):
        return 422
    return 400
