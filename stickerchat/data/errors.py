"""The one error type of the data package."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input in a data directory.

    The message names the file and line (or the sticker id) so the user can
    find and fix the problem; `reason` is the short key under which the case
    is counted when `DataConfig.skip_bad_examples` is set.
    """

    def __init__(self, message: str, reason: str = "bad_input"):
        super().__init__(message)
        self.reason = reason
