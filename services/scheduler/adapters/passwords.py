"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory choice)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# A hash no password matches, checked when the username is unknown, so that an unknown name takes as long to refuse
# as a wrong password and the timing does not tell which usernames exist.
_hasher = PasswordHasher()
_NO_ACCOUNT_HASH = _hasher.hash("no account has this password")


class Passwords:
    def __init__(self, hasher: PasswordHasher | None = None):
        self._hasher = hasher or _hasher

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or _NO_ACCOUNT_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than today's, to be replaced at the next sign-in."""
        return self._hasher.check_needs_rehash(password_hash)
