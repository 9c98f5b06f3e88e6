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


class SamplingCancelled(StudioError):
    """A sampler's ``should_stop`` asked it to stop before it finished (PixelCNN, DDPM);
    the partial images are discarded."""


class CheckpointError(StudioError):
    """A checkpoint or run directory is missing, corrupt or foreign."""


class WriteError(StudioError, OSError):
    """A file could not be written: disk full, no permission, read-only file system.

    Also an OSError, so callers that already handle OSError (the window's export
    dialogs) keep handling it; ``errno`` is the cause's.
    """

    def __init__(self, message: str, errno: int | None = None):
        super().__init__(message)
        self.errno = errno


class RunLocked(StudioError):
    """Another process (or a stale lock we cannot verify) holds the run directory."""


USER_ERRORS = (StudioError, ConfigError)
