"""Domain errors. The API layer maps each to one HTTP status with a JSON `detail`."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class BadRequest(DomainError):
    status_code = 400


class Unauthenticated(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class PayloadTooLarge(DomainError):
    status_code = 413


class Unprocessable(DomainError):
    status_code = 422


class ServiceUnavailable(DomainError):
    """AWS could not take the request even after retries; the client may try again later."""

    status_code = 503
    retry_after_seconds = 2
