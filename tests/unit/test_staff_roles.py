"""The roles' permission table: what the front desk, clinicians, ops and admins may each do."""

import pytest

from services.scheduler.domain.staff import PERMISSIONS, Permission, Role, may


@pytest.mark.parametrize(
    "permission",
    [
        Permission.BOOK,
        Permission.RESCHEDULE,
        Permission.CANCEL,
        Permission.CHECK_IN,
        Permission.RECORD_NO_SHOW,
        Permission.REGISTER_PATIENT,
    ],
)
def test_the_front_desk_books_changes_cancels_and_checks_in(permission):
    assert may(Role.FRONT_DESK, permission)
    assert not may(Role.OPS, permission)


@pytest.mark.parametrize(
    "permission",
    [Permission.START_TREATMENT, Permission.MARK_CHECKPOINT, Permission.DISCHARGE, Permission.OVERRIDE_GATE],
)
def test_only_clinicians_and_admins_start_treatment_mark_checkpoints_discharge_and_override_the_clinical_gates(
    permission,
):
    assert {role for role in Role if may(role, permission)} == {Role.CLINICIAN, Role.ADMIN}


def test_clinicians_do_not_book_or_cancel():
    assert not may(Role.CLINICIAN, Permission.BOOK)
    assert not may(Role.CLINICIAN, Permission.CANCEL)


def test_ops_only_read_the_board_and_the_ops_pages():
    assert PERMISSIONS[Role.OPS] == {Permission.VIEW_BOARD, Permission.VIEW_OPS}


def test_only_admins_read_the_audit_and_they_may_do_everything():
    assert {role for role in Role if may(role, Permission.VIEW_AUDIT)} == {Role.ADMIN}
    assert PERMISSIONS[Role.ADMIN] == set(Permission)


def test_every_role_sees_the_board():
    assert all(may(role, Permission.VIEW_BOARD) for role in Role)


def test_the_roles_are_named_as_the_command_line_takes_them():
    assert [role.value for role in Role] == ["front_desk", "clinician", "ops", "admin"]
