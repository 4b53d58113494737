"""One error hierarchy with stable codes, shared by the library, the CLI and the service."""

from __future__ import annotations


class ScreeningError(Exception):
    """Base error: ``code`` is stable and machine-readable, ``message`` is for people."""

    code = "screening_error"
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        """Return the error object of the output contract."""
        return {"code": self.code, "message": self.message}


class TaxonomyError(ScreeningError):
    """A taxonomy file is missing, malformed or inconsistent."""

    code = "taxonomy_invalid"


class IngestError(ScreeningError):
    """A document could not be read or turned into text."""

    code = "unreadable"
    http_status = 422


class UnsupportedFormatError(IngestError):
    """The input format is not one the tool reads."""

    code = "unsupported_format"
    http_status = 415


class EmptyDocumentError(IngestError):
    """The document holds no text."""

    code = "empty_document"


class DocumentTooLargeError(IngestError):
    """The document exceeds the configured size limit."""

    code = "too_large"
    http_status = 413


class DocumentTimeoutError(IngestError):
    """Reading or screening one document took longer than the time limit (setting ``max_seconds``)."""

    code = "timeout"
    http_status = 422


class ModelError(ScreeningError):
    """A model artefact is missing, tampered with or incompatible."""

    code = "model_invalid"
    http_status = 500


class ProfileError(ScreeningError):
    """An unknown profile was asked for."""

    code = "unknown_profile"
    http_status = 422
