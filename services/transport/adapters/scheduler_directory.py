"""What transport asks the scheduler at the moment it needs it: the clinic (name, zone, address), a patient's first
name for the escort page, a session's drop-off address for the provider. Patient data is never logged nor kept."""

import threading
import time
from dataclasses import dataclass
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests

from shared.contract.fields import is_id
from shared.service_client import service_session

# Short bounded waits: an escort's page or a worker waits on the scheduler, never a message.
TIMEOUT = (3.05, 5)


class SchedulerUnavailable(Exception):
    """The scheduler did not answer usefully; try again later."""


@dataclass(frozen=True)
class ClinicFacts:
    name: str
    time_zone: ZoneInfo
    address: str | None


class SchedulerDirectory:
    def __init__(
        self, base_url: str, token: str, *, clinic_ttl: float = 300.0, session: requests.Session | None = None
    ):
        self._base_url = base_url.rstrip("/")
        self._session = session or service_session(token, retries=1, timeout=TIMEOUT)
        self._clinic_ttl = clinic_ttl
        self._clinic: tuple[float, ClinicFacts] | None = None
        self._lock = threading.Lock()

    def clinic(self) -> ClinicFacts:
        with self._lock:
            if self._clinic and time.monotonic() - self._clinic[0] < self._clinic_ttl:
                return self._clinic[1]
        document = self._get("/api/clinic")
        try:
            facts = ClinicFacts(document["name"], ZoneInfo(document["time_zone"]), document.get("address"))
        except (KeyError, TypeError, ValueError) as exc:
            raise SchedulerUnavailable(f"the clinic document is not usable: {type(exc).__name__}") from None
        with self._lock:
            self._clinic = (time.monotonic(), facts)
        return facts

    def patient_first_name(self, patient_id: str) -> str | None:
        """The first word of the patient's name, or None: the escort's page does without rather than fail."""
        if not is_id(patient_id):
            return None
        try:
            name = self._get(f"/api/patients/{quote(patient_id, safe='')}").get("name")
        except SchedulerUnavailable:
            return None
        return name.split()[0] if isinstance(name, str) and name.split() else None

    def dropoff_address(self, session_id: str) -> str:
        if not is_id(session_id):
            raise SchedulerUnavailable("the session id is not an id")
        ride_home = self._get(f"/api/sessions/{quote(session_id, safe='')}").get("ride_home") or {}
        address = ride_home.get("dropoff_address")
        if not isinstance(address, str) or not address.strip():
            raise SchedulerUnavailable("the session has no drop-off address")
        return address

    def _get(self, path: str) -> dict:
        try:
            response = self._session.get(self._base_url + path)
        except requests.RequestException as exc:
            raise SchedulerUnavailable(f"GET {path.split('/')[2]}: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise SchedulerUnavailable(f"GET {path.split('/')[2]}: the scheduler answered {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise SchedulerUnavailable(f"GET {path.split('/')[2]}: not JSON") from None
        if not isinstance(document, dict):
            raise SchedulerUnavailable(f"GET {path.split('/')[2]}: not an object")
        return document
