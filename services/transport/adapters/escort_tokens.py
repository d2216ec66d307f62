"""Signed tokens of escort links and of the forms on their page (itsdangerous), one salt per purpose, so that a
token made for one can never pass for the other."""

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

LINK_SALT = "transport.escort-link"
FORM_SALT = "transport.escort-form"
# A page left open this long must be opened again; the link itself is good until the pickup time.
FORM_MAX_AGE_SECONDS = 12 * 3600
MAX_TOKEN_LENGTH = 400


class BadToken(Exception):
    """Tampered, truncated, forged, or not made for this purpose."""


@dataclass(frozen=True)
class LinkClaims:
    ride_id: str
    round: int


class EscortTokens:
    def __init__(self, secret: str):
        self._links = URLSafeTimedSerializer(secret, salt=LINK_SALT)
        self._forms = URLSafeTimedSerializer(secret, salt=FORM_SALT)

    def link_token(self, ride_id: str, round: int) -> str:
        return self._links.dumps([ride_id, round])

    def read_link(self, token: str) -> LinkClaims:
        # Expiry is the pickup time, which can move: the ride says when, not the token's age.
        return _claims(self._links, token, max_age=None)

    def form_token(self, claims: LinkClaims) -> str:
        return self._forms.dumps([claims.ride_id, claims.round])

    def check_form(self, token: str, claims: LinkClaims) -> None:
        """The form token must be ours, recent, and for the same ride and round as the link it is posted to."""
        if _claims(self._forms, token, max_age=FORM_MAX_AGE_SECONDS) != claims:
            raise BadToken("the form is for another link")


def _claims(serializer: URLSafeTimedSerializer, token: str, *, max_age: int | None) -> LinkClaims:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("no token")
    try:
        payload = serializer.loads(token, max_age=max_age)
    except BadData as exc:
        raise BadToken(type(exc).__name__) from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[0], str)
        or type(payload[1]) is not int
    ):
        raise BadToken("not a link")
    return LinkClaims(payload[0], payload[1])
