"""The booking form: find a patient (or register one, with their intake), choose a treatment and a day, pick one of
the start times the availability use case offers, give the ride home, and book one session or a series.

It works without any script: every step is the same form sent again (POST, so that no name or phone lands in a URL
or an access log), the page coming back with the values kept and the next step filled in. Only "Book session" and
"Register patient" change anything, through the same use cases as the API, under the signed-in staff member.
"""

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import handlers
from ..api.schemas import EscortRideHomeIn, PatientIn, ProviderRideHomeIn
from ..domain.clinic import Clinic
from ..domain.errors import ConcurrentChange, InvalidRequest, NotFound, Refused
from ..domain.patients import ContactChannel, Language
from ..domain.series import SeriesRequest
from ..domain.sessions import NO_RIDE, BookingRequest, RideHome, RideHomeMode
from ..domain.staff import Permission
from . import form_values
from .access import requires

log = logging.getLogger(__name__)

SERIES_COUNT = (2, 12)
SERIES_DAYS = (2, 60)
CONCURRENT = "The schedule changed while this booking was made, again and again; please try once more."
# Where a use case's field names show on the form.
FORM_FIELD = {
    "patient_id": "patient_id",
    "treatment_type": "treatment_type",
    "starts_at": "starts_at",
    "first_starts_at": "starts_at",
    "ride_home": "ride_mode",
    "count": "count",
    "within_days": "within_days",
}


@dataclass
class BookingForm:
    """What the booking form holds, as typed; ``errors`` says what is wrong with which field."""

    search: str = ""
    patient_id: str = ""
    treatment_type: str = ""
    day: str = ""
    starts_at: str = ""
    ride_mode: str = "escort"
    escort_name: str = ""
    escort_phone: str = ""
    dropoff_address: str = ""
    count: str = ""
    within_days: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values) -> "BookingForm":
        return cls(
            search=form_values.text(values, "search"),
            patient_id=form_values.text(values, "patient_id"),
            treatment_type=form_values.text(values, "treatment_type"),
            day=form_values.text(values, "day"),
            starts_at=form_values.text(values, "starts_at"),
            ride_mode=form_values.text(values, "ride_mode") or "escort",
            escort_name=form_values.text(values, "escort_name"),
            escort_phone=form_values.text(values, "escort_phone"),
            dropoff_address=form_values.text(values, "dropoff_address"),
            count=form_values.text(values, "count"),
            within_days=form_values.text(values, "within_days"),
        )

    def fingerprint(self) -> str:
        wanted = {
            name: getattr(self, name)
            for name in ("patient_id", "treatment_type", "starts_at", "ride_mode", "escort_name", "escort_phone")
        }
        wanted.update(dropoff_address=self.dropoff_address, count=self.count, within_days=self.within_days)
        return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


@dataclass
class Registration:
    name: str = ""
    phone: str = ""
    email: str = ""
    preferred_channel: str = "sms"
    language: str = "en"
    intake_day: str = ""
    intake_by: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, values) -> "Registration":
        return cls(
            name=form_values.text(values, "name"),
            phone=form_values.text(values, "phone"),
            email=form_values.text(values, "email"),
            preferred_channel=form_values.text(values, "preferred_channel") or "sms",
            language=form_values.text(values, "language") or "en",
            intake_day=form_values.text(values, "intake_day"),
            intake_by=form_values.text(values, "intake_by"),
        )


def create_booking_pages(*, uow_factory: Callable, clinic: Clinic, clock: Callable[[], datetime]) -> Blueprint:
    pages = Blueprint("booking", __name__)
    zone = clinic.time_zone

    def render(form: BookingForm, *, registration: Registration | None = None, refusal: str | None = None, status=200):
        patients = handlers.search_patients(form.search, uow=uow_factory()) if form.search else []
        chosen = form_values.identifier(form.patient_id)
        if chosen and all(p.id != chosen for p in patients):
            try:
                patients.insert(0, handlers.get_patient(chosen, uow=uow_factory())[0])
            except NotFound:
                form.errors.setdefault("patient_id", "No patient has this id; find the patient again.")
        starts, times_note = open_starts(form)
        return (
            render_template(
                "book.html",
                form=form,
                patients=patients,
                searched=bool(form.search),
                starts=starts,
                times_note=times_note,
                registration=registration or Registration(),
                refusal=refusal,
                treatments=list(clinic.treatment_types.values()),
                today=clinic.local_day(clock()),
                form_key=uuid.uuid4().hex,
                channels=list(ContactChannel),
                languages=list(Language),
            ),
            status,
        )

    def open_starts(form: BookingForm) -> tuple[list[datetime], str | None]:
        """The starts the availability use case offers for the form's treatment and day (and patient, if chosen)."""
        treatment = clinic.treatment_type(form.treatment_type)
        on, problem = form_values.day(form.day)
        if treatment is None or on is None or problem:
            return [], None
        window_from, window_to = form_values.day_window(on, zone)
        try:
            placements = handlers.availability(
                treatment.id,
                window_from=window_from,
                window_to=window_to,
                patient_id=form_values.identifier(form.patient_id),
                uow=uow_factory(),
                clinic=clinic,
                now=clock(),
            )
        except InvalidRequest:
            placements = handlers.availability(
                treatment.id,
                window_from=window_from,
                window_to=window_to,
                uow=uow_factory(),
                clinic=clinic,
                now=clock(),
            )
        starts = sorted({placement.starts_at.astimezone(zone) for placement in placements})
        if not starts:
            return [], f"No start time is open for {treatment.label} on this day. Try another day."
        return starts, None

    @pages.get("/book")
    @requires(Permission.BOOK)
    def book():
        form = BookingForm(
            patient_id=form_values.identifier(request.args.get("patient_id", "")) or "",
            treatment_type=form_values.text(request.args, "treatment_type"),
            day=form_values.text(request.args, "day"),
        )
        return render(form)

    @pages.post("/book")
    @requires(Permission.BOOK)
    def book_or_next_step():
        form = BookingForm.of(request.form)
        action = request.form.get("action", "book")
        if action == "find":
            return render(form)
        if action == "times":
            check_choice(form)
            return render(form, status=422 if form.errors else 200)
        return submit(form)

    def check_choice(form: BookingForm) -> None:
        if not form_values.identifier(form.patient_id):
            form.errors["patient_id"] = "Choose a patient: find them by name or phone, or register them."
        if clinic.treatment_type(form.treatment_type) is None:
            form.errors["treatment_type"] = "Choose a treatment."
        _, problem = form_values.day(form.day, required="Choose a day.")
        if problem:
            form.errors["day"] = problem

    def submit(form: BookingForm):
        check_choice(form)
        starts_at = form_values.instant(form.starts_at)
        if starts_at is None and "day" not in form.errors:
            form.errors["starts_at"] = "Choose a start time: show the start times for the day, then pick one."
        treatment = clinic.treatment_type(form.treatment_type)
        # With the treatment unknown, the ride given is checked all the same: every problem is shown at once.
        ride_home = ride_home_of(form, needed=treatment is None or treatment.ride_home_required)
        series = series_of(form)
        if form.errors or starts_at is None or treatment is None:
            return render(form, status=422)
        key = form_values.text(request.form, "form_key")
        idempotency = (
            handlers.IdempotencyKey(key, form.fingerprint()) if 8 <= len(key) <= 64 and key.isalnum() else None
        )
        actor = current_user.account.actor
        try:
            if series is None:
                booking = BookingRequest(handlers.new_id(), form.patient_id, treatment.id, starts_at, ride_home)
                session, _ = handlers.book_session(
                    booking, uow=uow_factory(), clinic=clinic, now=clock(), idempotency=idempotency, actor=actor
                )
                flash(f"Session booked: {_when(session.starts_at, zone)}, {session.chair_id.replace('-', ' ')}.")
                return redirect(url_for("session_pages.show", session_id=session.id), 303)
            count, within_days = series
            _, sessions, _ = handlers.book_series(
                SeriesRequest(treatment.id, starts_at, count, within_days),
                patient_id=form.patient_id,
                ride_home=ride_home,
                uow=uow_factory(),
                clinic=clinic,
                now=clock(),
                idempotency=idempotency,
                actor=actor,
            )
        except InvalidRequest as exc:
            for name, messages in form_values.first_messages(exc.errors).items():
                form.errors[FORM_FIELD.get(name, name)] = messages
            return render(form, status=422)
        except Refused as exc:
            log.info("a booking through the form was refused: %s", exc.reason)
            return render(form, refusal=exc.message, status=409)
        except ConcurrentChange:
            return render(form, refusal=CONCURRENT, status=409)
        flash(f"Series of {len(sessions)} sessions booked: " + "; ".join(_when(s.starts_at, zone) for s in sessions))
        return redirect(url_for("session_pages.show", session_id=sessions[0].id), 303)

    def ride_home_of(form: BookingForm, *, needed: bool) -> RideHome:
        if not needed:
            return NO_RIDE
        if form.ride_mode == "provider":
            loaded, problems = form_values.checked(
                ProviderRideHomeIn(), {"mode": "provider", "dropoff_address": form.dropoff_address}
            )
            form.errors.update({name: message for name, message in problems.items() if name != "mode"})
            return RideHome(RideHomeMode.PROVIDER, dropoff_address=loaded.get("dropoff_address"))
        if form.ride_mode != "escort":
            form.errors["ride_mode"] = "Choose how the patient gets home."
            return NO_RIDE
        loaded, problems = form_values.checked(
            EscortRideHomeIn(), {"mode": "escort", "escort_name": form.escort_name, "escort_phone": form.escort_phone}
        )
        form.errors.update({name: message for name, message in problems.items() if name != "mode"})
        return RideHome(
            RideHomeMode.ESCORT, escort_name=loaded.get("escort_name"), escort_phone=loaded.get("escort_phone")
        )

    def series_of(form: BookingForm) -> tuple[int, int] | None:
        if not form.count or form.count == "1":
            if form.within_days:
                form.errors["count"] = "Give the number of sessions of the series, or leave both empty."
            return None
        count = _number(form.count, SERIES_COUNT)
        within_days = _number(form.within_days, SERIES_DAYS)
        if count is None:
            form.errors["count"] = f"Give a number from {SERIES_COUNT[0]} to {SERIES_COUNT[1]}, or leave it empty."
        if within_days is None:
            form.errors["within_days"] = f"Give a number of days from {SERIES_DAYS[0]} to {SERIES_DAYS[1]}."
        if count is None or within_days is None:
            return None
        if count > within_days:
            form.errors["within_days"] = "A series has at most one session a day: give at least as many days."
            return None
        return count, within_days

    @pages.post("/book/patients")
    @requires(Permission.REGISTER_PATIENT)
    def register():
        registration = Registration.of(request.form)
        loaded, problems = form_values.checked(
            PatientIn(),
            {
                "name": registration.name,
                "phone": registration.phone,
                "email": registration.email or None,
                "preferred_channel": registration.preferred_channel,
                "language": registration.language,
            },
        )
        registration.errors.update(problems)
        intake_at = intake_time(registration)
        if registration.errors:
            return render(BookingForm(), registration=registration, status=422)
        now = clock()
        try:
            patient = handlers.register_patient(
                full_name=loaded["name"],
                phone=loaded["phone"],
                email=loaded["email"],
                preferred_channel=loaded["preferred_channel"],
                language=loaded["language"],
                uow=uow_factory(),
                now=now,
            )
            if intake_at is not None:
                recorded_by = registration.intake_by or current_user.username
                handlers.record_intake(
                    patient.id, completed_at=intake_at, recorded_by=recorded_by, uow=uow_factory(), now=now
                )
        except InvalidRequest as exc:
            registration.errors.update(form_values.first_messages(exc.errors))
            return render(BookingForm(), registration=registration, status=422)
        flash(registered_message(intake_at is not None))
        return redirect(url_for("booking.book", patient_id=patient.id), 303)

    def intake_time(registration: Registration) -> datetime | None:
        """When the intake was done, from the day given: now for today, midday for an earlier day."""
        on, problem = form_values.day(registration.intake_day)
        if problem:
            registration.errors["intake_day"] = problem
        if on is None:
            if registration.intake_by:
                registration.errors["intake_day"] = "Give the day of the intake, or leave both intake fields empty."
            return None
        if registration.intake_by:
            _, problems = form_values.checked(PatientIn(only=("name",)), {"name": registration.intake_by})
            if problems:
                registration.errors["intake_by"] = problems.get("name", "Give a person's name.")
        now = clock()
        today = clinic.local_day(now)
        if on > today:
            registration.errors["intake_day"] = "An intake is recorded once it is done: give today or an earlier day."
            return None
        return now if on == today else datetime.combine(on, time(12), tzinfo=zone)

    return pages


def registered_message(with_intake: bool) -> str:
    done = "registered, with their intake" if with_intake else "registered (no intake recorded yet)"
    return f"The patient is {done}. Choose the treatment and the day."


def _number(text: str, bounds: tuple[int, int]) -> int | None:
    if not text.isdigit() or len(text) > 3:
        return None
    value = int(text)
    return value if bounds[0] <= value <= bounds[1] else None


def _when(instant: datetime, zone) -> str:
    local = instant.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"
