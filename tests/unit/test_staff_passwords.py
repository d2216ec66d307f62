"""Passwords: hashed with Argon2id, verified, never stored or compared in the clear; weak ones refused."""

import pytest
from argon2 import PasswordHasher

from services.scheduler.adapters.passwords import Passwords
from services.scheduler.domain.staff import password_problem, username_problem

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords()


def test_a_hash_is_argon2id_salted_and_does_not_contain_the_password(passwords):
    first, second = passwords.hash(PASSWORD), passwords.hash(PASSWORD)

    assert first.startswith("$argon2id$")
    assert first != second, "each hash has its own salt"
    assert PASSWORD not in first


def test_the_right_password_verifies_and_a_wrong_one_does_not(passwords):
    stored = passwords.hash(PASSWORD)

    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD.upper())
    assert not passwords.verify(stored, "")


def test_no_password_verifies_against_a_missing_or_broken_hash(passwords):
    assert not passwords.verify(None, PASSWORD)
    assert not passwords.verify(None, "no account has this password")
    assert not passwords.verify("not a hash", PASSWORD)


def test_a_hash_made_with_weaker_parameters_than_todays_needs_rehashing(passwords):
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)

    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash(PASSWORD))
    assert passwords.verify(weak, PASSWORD), "an old hash still lets its owner in, to be replaced"


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("", "The password is empty."),
        ("            ", "The password is empty."),
        ("short one", "too short"),
        ("aaaaaaaaaaaaaaaa", "repeats too few characters"),
        ("my name is desk.ann ok", "contains the username"),
        ("Password1234", "most common"),
        ("x" * 100 + "yz12" * 50, "too long"),
    ],
)
def test_a_weak_password_is_refused_with_the_reason(password, problem):
    assert problem in password_problem(password, username="desk.ann")


def test_a_long_passphrase_is_accepted():
    assert password_problem(PASSWORD, username="desk.ann") is None


@pytest.mark.parametrize("username", ["desk.ann", "dr_patel", "np-okafor2", "abc"])
def test_usernames_are_lower_case_words(username):
    assert username_problem(username) is None


@pytest.mark.parametrize("username", ["", "ab", "Desk.Ann", "desk ann", ".hidden", "a" * 65, "ann@clinic", "ann\n"])
def test_other_usernames_are_refused_with_the_rule(username):
    assert "A username is 3 to 64 lower-case letters" in username_problem(username)
