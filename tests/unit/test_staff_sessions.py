"""Staff sessions end after 30 minutes idle or 12 hours in all, whatever happens; the lock-out; where sign-in
leads. The clock is a fake the test moves."""

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from services.scheduler.cli import run_command
from services.scheduler.domain.staff import (
    LockoutPolicy,
    Role,
    SessionTimeouts,
    SignedInSession,
    StaffAccount,
)
from services.scheduler.web import FrontDeskSettings
from services.scheduler.web.next_url import safe_next
from services.scheduler.web.settings import DEVELOPMENT_SECRET_KEY
from shared.settings import Settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
TIMEOUTS = SessionTimeouts(idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def account(**changes) -> StaffAccount:
    fields = {"id": "a-1", "username": "desk.ann", "role": Role.FRONT_DESK, "password_hash": "h", "created_at": NOW}
    return StaffAccount(**{**fields, **changes})


def session_since(signed_in_minutes_ago: float, active_minutes_ago: float) -> SignedInSession:
    return SignedInSession(
        "a-1", NOW - timedelta(minutes=signed_in_minutes_ago), NOW - timedelta(minutes=active_minutes_ago)
    )


def test_a_session_active_within_the_idle_time_goes_on():
    assert not session_since(60, 29).over(NOW, TIMEOUTS, account())


def test_a_session_idle_for_thirty_minutes_is_over():
    assert session_since(60, 30).over(NOW, TIMEOUTS, account())


def test_a_session_is_over_twelve_hours_after_sign_in_however_active():
    assert session_since(12 * 60, 0).over(NOW, TIMEOUTS, account())
    assert not session_since(12 * 60 - 1, 0).over(NOW, TIMEOUTS, account())


def test_a_session_of_a_deactivated_or_vanished_account_is_over():
    assert session_since(1, 1).over(NOW, TIMEOUTS, account(active=False))
    assert session_since(1, 1).over(NOW, TIMEOUTS, None)


def test_a_session_signed_in_before_the_account_signed_out_is_over():
    assert session_since(10, 1).over(NOW, TIMEOUTS, account(sessions_valid_after=NOW - timedelta(minutes=5)))
    assert not session_since(3, 1).over(NOW, TIMEOUTS, account(sessions_valid_after=NOW - timedelta(minutes=5)))


def test_an_account_locks_after_five_failures_in_a_row_for_fifteen_minutes_and_a_success_resets_the_count():
    policy = LockoutPolicy(failures=5, lock_for=timedelta(minutes=15))
    staff = account()
    for _ in range(4):
        staff.failed_sign_in(NOW, policy)
    assert not staff.locked(NOW)
    staff.signed_in()
    for _ in range(4):
        staff.failed_sign_in(NOW, policy)
    assert not staff.locked(NOW), "the success in between started the count again"

    staff.failed_sign_in(NOW, policy)

    assert staff.locked(NOW) and staff.locked(NOW + timedelta(minutes=14))
    assert not staff.locked(NOW + timedelta(minutes=15))


def test_a_failure_after_the_lock_ran_out_starts_a_new_count():
    policy = LockoutPolicy(failures=2, lock_for=timedelta(minutes=15))
    staff = account()
    staff.failed_sign_in(NOW, policy)
    staff.failed_sign_in(NOW, policy)

    staff.failed_sign_in(NOW + timedelta(minutes=20), policy)

    assert staff.failed_sign_ins == 1 and not staff.locked(NOW + timedelta(minutes=20))


@pytest.mark.parametrize("candidate", ["/", "/audit?day=2026-12-01", "/sessions/abc"])
def test_sign_in_leads_to_a_path_on_this_site(candidate):
    assert safe_next(candidate) == candidate


@pytest.mark.parametrize(
    "candidate",
    [None, "", "https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "audit", "/\n/x"],
)
def test_sign_in_never_leads_off_this_site(candidate):
    assert safe_next(candidate) == "/"


def test_the_settings_read_the_timeouts_and_the_cookie_flag_and_warn_of_the_development_key(caplog):
    settings = FrontDeskSettings.from_environment(
        {"SECRET_KEY": "s3cret", "STAFF_IDLE_MINUTES": "10", "STAFF_SESSION_HOURS": "8", "STAFF_COOKIE_SECURE": "true"}
    )
    development = FrontDeskSettings.from_environment({})

    assert settings.timeouts == SessionTimeouts(idle=timedelta(minutes=10), absolute=timedelta(hours=8))
    assert settings.cookie_secure and settings.secret_key == "s3cret"
    assert development.secret_key == DEVELOPMENT_SECRET_KEY and not development.cookie_secure
    assert "SECRET_KEY is not set" in caplog.text
    with pytest.raises(ValueError, match="STAFF_IDLE_MINUTES must be more than 0"):
        FrontDeskSettings.from_environment({"STAFF_IDLE_MINUTES": "0"})


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def client(tmp_path, clock, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=f"sqlite:///{tmp_path / 'scheduler.sqlite3'}",
        port=0,
        service_token="t",
        scheduler_url="http://127.0.0.1:1",
    )
    front_desk = FrontDeskSettings(secret_key="unit", cookie_secure=True)
    runtime = bootstrap(settings, clinic=load_clinic(), clock=clock, front_desk=front_desk)
    argv = ["create-user", "desk.ann", "--role", "front_desk", "--password-stdin"]
    assert run_command(argv, stdin=io.StringIO(PASSWORD), stdout=io.StringIO(), settings=settings) == 0
    client = runtime.app.test_client()
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    signed_in = client.post("/sign-in", data={"csrf_token": token, "username": "desk.ann", "password": PASSWORD})
    assert signed_in.status_code == 302
    assert "Secure" in signed_in.headers["Set-Cookie"]
    return client


def test_the_board_stays_open_while_the_staff_member_keeps_working(client, clock):
    for _ in range(5):
        clock.now += timedelta(minutes=20)
        assert client.get("/").status_code == 200


def test_after_thirty_idle_minutes_the_next_page_asks_to_sign_in_again_and_says_why(client, clock):
    clock.now += timedelta(minutes=30)

    answer = client.get("/")
    sign_in_page = client.get(answer.headers["Location"])

    assert answer.status_code == 302 and answer.headers["Location"].startswith("/sign-in")
    assert "Your session has ended. Please sign in again." in sign_in_page.text


def test_the_boards_own_refreshes_do_not_keep_an_idle_session_open(client, clock):
    for _ in range(2):
        clock.now += timedelta(minutes=10)
        assert client.get("/", headers={"X-Auto-Refresh": "1"}).status_code == 200
    clock.now += timedelta(minutes=10)

    assert client.get("/", headers={"X-Auto-Refresh": "1"}).status_code == 302


def test_twelve_hours_after_sign_in_the_session_is_over_however_active(client, clock):
    for _ in range(24):
        clock.now += timedelta(minutes=29, seconds=59)
        client.get("/")
    clock.now = NOW + timedelta(hours=12)

    assert client.get("/").status_code == 302


def test_an_htmx_request_after_the_session_ended_is_told_where_to_sign_in(client, clock):
    clock.now += timedelta(hours=1)

    answer = client.get("/", headers={"HX-Request": "true"})

    assert answer.status_code == 401 and answer.headers["HX-Redirect"].startswith("/sign-in")
