"""A session as an iCalendar entry for the patient: from arrival to the ride home."""

from icalendar import Calendar, Event

from ..domain.clinic import Clinic
from ..domain.sessions import Session, SessionStatus

PRODUCT_ID = "-//Clinic Services//Scheduler//EN"


def session_calendar(session: Session, clinic: Clinic) -> bytes:
    """The entry runs from arrival (before treatment) to pickup (the end of recovery); pickup is in the text."""
    treatment = clinic.treatment_type(session.treatment_type)
    label = treatment.label if treatment else session.treatment_type
    zone = clinic.time_zone
    arrival = (session.starts_at - clinic.arrival_lead).astimezone(zone)
    pickup = session.recovery_ends_at.astimezone(zone)
    lines = [
        f"Please arrive at {arrival:%H:%M} to check in; "
        f"treatment starts at {session.starts_at.astimezone(zone):%H:%M}.",
        f"Pickup: {pickup:%H:%M} ({pickup:%A %d %B %Y}).",
    ]
    if session.ride_home.mode.value != "none":
        lines.append("You may not drive after treatment: your ride home must collect you at the pickup time.")
    event = Event()
    event.add("uid", f"session-{session.id}@{_host_part(clinic.name)}")
    event.add("dtstamp", session.created_at)
    event.add("dtstart", arrival)
    event.add("dtend", pickup)
    event.add("summary", f"{label} at {clinic.name}")
    event.add("location", clinic.name)
    event.add("description", "\n".join(lines))
    event.add(
        "status", "CANCELLED" if session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW) else "CONFIRMED"
    )
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _host_part(name: str) -> str:
    return "".join(ch for ch in name.lower().replace(" ", "-") if ch.isalnum() or ch == "-") or "clinic"
