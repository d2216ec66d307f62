"""Where to go after signing in: only a path on this site, so that a crafted link cannot send staff elsewhere."""

from urllib.parse import urlsplit

HOME = "/"
MAX_LENGTH = 2000


def safe_next(candidate: str | None) -> str:
    if not candidate or len(candidate) > MAX_LENGTH or not candidate.isprintable():
        return HOME
    # "//host" and "/\host" are other sites to a browser; so is anything with a scheme or a host.
    if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return HOME
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or "\\" in candidate:
        return HOME
    return candidate
