"""The failure modes a test can switch on through the control API."""

import re
from dataclasses import asdict, dataclass

E164 = re.compile(r"\+[1-9][0-9]{1,14}")


class BadFaults(ValueError):
    pass


@dataclass(frozen=True)
class Faults:
    status: int | None = None  # every /v1 call answers this status, and takes nothing
    delay_seconds: float = 0.0  # every /v1 answer waits this long, after the work is done
    reject_numbers: tuple[str, ...] = ()  # texts to these numbers are refused with 422 invalid_number
    fail_after_accept: bool = False  # a new text is taken, then answered 503
    times: int | None = None  # how many /v1 calls the faults act on before they clear themselves; None: until cleared

    @classmethod
    def from_json(cls, body: object) -> "Faults":
        if not isinstance(body, dict):
            raise BadFaults("faults must be a JSON object")
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise BadFaults(f"unknown faults: {', '.join(sorted(unknown))}")
        status, delay, times = body.get("status"), body.get("delay_seconds", 0), body.get("times")
        reject, fail_after_accept = body.get("reject_numbers", []), body.get("fail_after_accept", False)
        if status is not None and (type(status) is not int or not 400 <= status <= 599):
            raise BadFaults("status must be an HTTP error status (400-599)")
        if type(delay) not in (int, float) or not 0 <= delay <= 120:
            raise BadFaults("delay_seconds must be between 0 and 120")
        if not isinstance(reject, list) or not all(isinstance(n, str) and E164.fullmatch(n) for n in reject):
            raise BadFaults("reject_numbers must be a list of E.164 numbers")
        if type(fail_after_accept) is not bool:
            raise BadFaults("fail_after_accept is true or false")
        if times is not None and (type(times) is not int or times < 1):
            raise BadFaults("times must be a positive whole number")
        return cls(
            status=status,
            delay_seconds=float(delay),
            reject_numbers=tuple(reject),
            fail_after_accept=fail_after_accept,
            times=times,
        )

    def as_json(self) -> dict:
        shown = asdict(self)
        shown["reject_numbers"] = list(self.reject_numbers)
        return shown


NONE = Faults()
