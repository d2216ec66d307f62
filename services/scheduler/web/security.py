"""What every page answer carries: a Content-Security-Policy that runs no inline script, and headers that keep a
page out of frames, caches and other sites' referrers."""

from flask import Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Pages show patients' names and times: no shared cache or back button after sign-out should keep them.
PRIVATE = "no-store"
NOT_PAGES = ("/api", "/healthz")


def is_page() -> bool:
    """Everything but /api and the health check is for people: HTML errors, the headers below."""
    path = request.path
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in NOT_PAGES)


def add_page_headers(response: Response) -> Response:
    if is_page():
        for name, value in PAGE_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/assets/"):
            response.headers["Cache-Control"] = PRIVATE
    return response
