"""The user-facing errors of the engine. Each message names the file or field at fault.

The CLI prints them as one line and exits 2; the GUI shows them in a dialog.
"""

from studio.core.config import ConfigError


class StudioError(Exception):
    """Base of the errors a user can cause and fix (bad file, missing dataset, ...)."""


class DataError(StudioError):
    """A dataset is missing, unreadable or malformed."""


class DownloadCancelled(DataError):
    """The person cancelled a dataset download; partial files were removed."""


class CheckpointError(StudioError):
    """A checkpoint or run directory is missing, corrupt or foreign."""


USER_ERRORS = (StudioError, ConfigError)
