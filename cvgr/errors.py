"""User-facing errors.

A :class:`CvgrError` carries one line that names the problem and the fix.
The CLI and the Snakemake entry points print that line (no traceback) and
exit with status 1; every other exception is a bug and keeps its traceback.
"""


class CvgrError(Exception):
    """An error caused by input the user can fix (config, files, data)."""


class CorruptFileError(CvgrError):
    """An input file is truncated, unreadable or not what its name promises."""

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"{path}: {reason}. The file is corrupt or incomplete: delete it and rerun "
            "(snakemake rebuilds it from its inputs)."
        )
        self.path = path


class StaleInputError(CvgrError):
    """An input no longer matches what a result was computed from."""


class DatasetNotFoundError(CvgrError):
    """Raw dataset files are absent and cannot be downloaded."""


class NumericalError(CvgrError):
    """NaN or inf appeared in a training loss."""


class ShapeMismatchError(CvgrError):
    """A model and the data (or a checkpoint) do not fit together."""
