"""Patients' contact details, sessions (with their escort), calendars and the clinic's facts, asked of the scheduler's
API when a message is sent."""

import threading
import time
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests

from shared.contract.fields import is_id
from shared.service_client import service_session

from ..domain.contacts import ClinicFacts, Contact, ContactUnavailable, Escort, SessionFacts, SessionUnknown

# The delivery worker waits on the scheduler: each try is short and only one is repeated, so a scheduler that is away
# holds up the worker for seconds; the message itself waits in the database and is tried again later.
TIMEOUT = (3.05, 5)
RETRIES = 1


class SchedulerUnavailable(Exception):
    """The scheduler did not answer usefully; the message waits and is tried again."""


class SchedulerDirectory:
    def __init__(
        self, base_url: str, token: str, *, clinic_ttl: float = 300.0, session: requests.Session | None = None
    ):
        self._base_url = base_url.rstrip("/")
        self._session = session or service_session(token, retries=RETRIES, timeout=TIMEOUT)
        self._clinic_ttl = clinic_ttl
        self._clinic: tuple[float, ClinicFacts] | None = None
        self._lock = threading.Lock()

    def contact(self, patient_id: str) -> Contact:
        if not is_id(patient_id):  # the contract refuses such ids already; a path is never built from one
            raise ContactUnavailable("the patient id is not an id")
        document = self._get(
            f"/api/patients/{quote(patient_id, safe='')}",
            missing=ContactUnavailable("the scheduler has no such patient"),
        )
        return Contact(
            patient_id=document["id"],
            name=document["name"],
            phone=document["phone"],
            email=document.get("email"),
            preferred_channel=document.get("preferred_channel") or "sms",
            language=document.get("language") or "en",
            reminders_opt_out=bool(document.get("reminders_opt_out", False)),
        )

    def session(self, session_id: str) -> SessionFacts:
        """The session as it stands now, with the escort it names (the front desk may have changed either)."""
        if not is_id(session_id):  # the contract refuses such ids already; a path is never built from one
            raise SessionUnknown("the session id is not an id")
        document = self._get(
            f"/api/sessions/{quote(session_id, safe='')}", missing=SessionUnknown("the scheduler has no such session")
        )
        ride_home = document.get("ride_home") or {}
        escort = None
        if ride_home.get("mode") == "escort" and ride_home.get("escort_phone"):
            escort = Escort(
                session_id=document["id"],
                patient_id=document["patient_id"],
                name=ride_home.get("escort_name") or "",
                phone=ride_home["escort_phone"],
            )
        discharged_at = document.get("discharged_at")
        return SessionFacts(
            session_id=document["id"],
            patient_id=document["patient_id"],
            status=document["status"],
            treatment_type=document["treatment_type"],
            starts_at=datetime.fromisoformat(document["starts_at"]),
            treatment_ends_at=datetime.fromisoformat(document["treatment_ends_at"]),
            recovery_ends_at=datetime.fromisoformat(document["recovery_ends_at"]),
            ride_mode=ride_home.get("mode"),
            escort=escort,
            discharged_at=datetime.fromisoformat(discharged_at) if discharged_at else None,
        )

    def calendar(self, session_id: str) -> bytes:
        """The session's ``.ics``, for an e-mail's attachment."""
        if not is_id(session_id):
            raise SessionUnknown("the session id is not an id")
        path = f"/api/sessions/{quote(session_id, safe='')}.ics"
        response = self._request(path)
        if response.status_code == 404:
            raise SessionUnknown("the scheduler has no such session")
        if response.status_code != 200:
            raise SchedulerUnavailable(f"the scheduler answered {response.status_code}")
        return response.content

    def clinic(self) -> ClinicFacts:
        with self._lock:
            if self._clinic and time.monotonic() - self._clinic[0] < self._clinic_ttl:
                return self._clinic[1]
            document = self._get(
                "/api/clinic", missing=SchedulerUnavailable("the scheduler has no clinic configuration")
            )
            facts = ClinicFacts(
                name=document["name"],
                time_zone=ZoneInfo(document["time_zone"]),
                treatment_labels={t["id"]: t["label"] for t in document["treatment_types"]},
                arrival_lead=timedelta(minutes=document["arrival_minutes_before"]),
                address=document.get("address") or None,
            )
            self._clinic = (time.monotonic(), facts)
            return facts

    def _request(self, path: str) -> requests.Response:
        try:
            return self._session.get(self._base_url + path)
        except requests.RequestException as exc:
            raise SchedulerUnavailable(f"GET {path.split('/')[2]}: {type(exc).__name__}") from exc

    def _get(self, path: str, *, missing: Exception) -> dict:
        response = self._request(path)
        if response.status_code == 404:
            raise missing
        if response.status_code != 200:
            raise SchedulerUnavailable(f"the scheduler answered {response.status_code}")
        return response.json()
