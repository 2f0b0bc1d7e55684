"""User-facing errors.

`CoocError` carries a one-line message that says what went wrong and how to fix it; the CLI
prints it without a traceback and exits with status 2. Internal bugs stay ordinary exceptions.
"""


class CoocError(Exception):
    """A problem the user can fix (bad path, unknown tokenizer, corrupted index, ...)."""


class IndexFormatError(CoocError):
    """An index directory is missing, truncated, of another version, or fails a checksum."""


def missing_extra(package: str, extra: str) -> CoocError:
    """The error raised when an optional dependency is absent."""
    return CoocError(f"this feature needs the '{package}' package: pip install 'cooc[{extra}]'")
