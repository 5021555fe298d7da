"""The error every dataset reader raises for a malformed file."""


class DatasetFormatError(ValueError):
    """A dataset file does not follow its format (the message names file and line)."""
