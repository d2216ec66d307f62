"""Staff accounts in the scheduler's database."""

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..domain.staff import Role, StaffAccount
from .tables import staff_accounts


class UsernameTaken(Exception):
    pass


class SqlStaffAccounts:
    def __init__(self, connection: Connection):
        self._connection = connection

    def add(self, account: StaffAccount) -> None:
        if self.by_username(account.username) is not None:
            raise UsernameTaken(account.username)
        try:
            self._connection.execute(insert(staff_accounts).values(**_row_of(account)))
        except IntegrityError as exc:  # another one took the name between the look-up and the insert
            raise UsernameTaken(account.username) from exc

    def save(self, account: StaffAccount) -> None:
        row = _row_of(account)
        del row["id"], row["username"], row["created_at"]
        self._connection.execute(update(staff_accounts).where(staff_accounts.c.id == account.id).values(**row))

    def get(self, account_id: str) -> StaffAccount | None:
        row = self._connection.execute(select(staff_accounts).where(staff_accounts.c.id == account_id)).first()
        return _account_of(row) if row else None

    def by_username(self, username: str, *, for_update: bool = False) -> StaffAccount | None:
        query = select(staff_accounts).where(staff_accounts.c.username == username)
        if for_update:
            # Concurrent failed attempts each count: the second waits for the first's count.
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return _account_of(row) if row else None


def _row_of(account: StaffAccount) -> dict:
    return {
        "id": account.id,
        "username": account.username,
        "role": account.role.value,
        "password_hash": account.password_hash,
        "created_at": account.created_at,
        "active": account.active,
        "failed_sign_ins": account.failed_sign_ins,
        "locked_until": account.locked_until,
        "sessions_valid_after": account.sessions_valid_after,
    }


def _account_of(row) -> StaffAccount:
    return StaffAccount(
        id=row.id,
        username=row.username,
        role=Role(row.role),
        password_hash=row.password_hash,
        created_at=row.created_at,
        active=row.active,
        failed_sign_ins=row.failed_sign_ins,
        locked_until=row.locked_until,
        sessions_valid_after=row.sessions_valid_after,
    )
