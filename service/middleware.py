"""ASGI middleware: security headers, metrics, the body-size limit and the last-resort error guard.

Written as plain ASGI so that they see every response, including the ones they produce themselves,
and never read the body into memory to measure it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTimeoutError, BodyTooLargeError, error_response
from .metrics import Metrics

log = logging.getLogger("screening.service")

# The page loads its script and styles from /static; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


def route_label(scope: Scope, known_paths: frozenset[str]) -> str:
    """A bounded label for the request's route: its path when it is one of the app's, else a fixed word.

    The service's routes have no path parameters, so a known path is its own template; anything else
    becomes ``/static`` or ``unmatched``, so a client cannot create label values at will.
    """
    path = scope.get("path", "")
    if path in known_paths:
        return str(path)
    return "/static" if path.startswith("/static/") else "unmatched"


class SecurityHeadersMiddleware:
    """Add the security headers to every response, and ``Cache-Control: no-store`` to API answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope.get("path", "").startswith("/v1/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if no_store:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class MetricsMiddleware:
    """Count every request and time it, labelled by route template and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, known_paths: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            self.metrics.observe_request(scope["method"], route_label(scope, self.known_paths), status,
                                         time.perf_counter() - started)


class BodyLimitMiddleware:
    """Answer 413 for a body over ``max_bytes``: at once from ``Content-Length``, else while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> BodyTooLargeError:
        return BodyTooLargeError(f"request body exceeds {self.max_bytes} bytes (setting SCREENING_MAX_BODY_BYTES)")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            exc = self._error()
            await error_response(exc.http_status, exc.code, exc.message)(scope, receive, send)
            return
        received = 0
        exceeded = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise self._error()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded:
                return  # whatever the app made of the interrupted body, the answer is 413
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not response_started:
            exc = self._error()
            await error_response(exc.http_status, exc.code, exc.message)(scope, receive, send)


class BodyTimeoutMiddleware:
    """Answer 408 when a request body has not arrived in full ``seconds`` after the request began.

    The limit is on the whole body, not on each read, so a client trickling a byte at a time cannot hold
    a worker's request open for longer. Slow headers never reach the app: the reverse proxy bounds those.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        body_done = False
        timed_out = False
        response_started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()  # waiting for a disconnect is not reading the body
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except asyncio.TimeoutError:
                timed_out = True
                raise BodyTimeoutError(f"the request body did not arrive within {self.seconds:g} s "
                                       "(setting SCREENING_BODY_TIMEOUT_S)") from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except BodyTimeoutError as exc:
            if response_started:
                raise
            await error_response(exc.http_status, exc.code, exc.message, {"connection": "close"})(scope, receive, send)
        except Exception:
            if not timed_out or response_started:
                raise
            error = BodyTimeoutError(f"the request body did not arrive within {self.seconds:g} s")
            await error_response(error.http_status, error.code, error.message, {"connection": "close"})(
                scope, receive, send)


class UnexpectedErrorMiddleware:
    """Turn an unhandled exception into a 500 with the error shape, logging no exception message.

    Messages of unexpected exceptions can quote their input, which may be document text, so only the
    exception type and the stack frames are logged.
    """

    def __init__(self, app: ASGIApp, known_paths: frozenset[str]) -> None:
        self.app = app
        self.known_paths = known_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection (HTTP only; other scopes pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response_started = False

        async def send_tracking(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            log.error("unhandled %s on %s %s\n%s", exc.__class__.__name__, scope["method"], route_label(scope, self.known_paths),
                      "".join(traceback.format_tb(exc.__traceback__)))
            if response_started:
                return  # the server closes the unfinished response; re-raising would log the message
            await error_response(500, "internal", "internal error; the request was not completed")(scope, receive, send)
