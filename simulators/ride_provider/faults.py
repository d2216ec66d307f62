"""The failure modes a test can switch on through the control API."""

from dataclasses import asdict, dataclass


class BadFaults(ValueError):
    pass


@dataclass(frozen=True)
class Faults:
    status: int | None = None  # every /v1 call answers this status
    delay_seconds: float = 0.0  # every /v1 answer waits this long, after the work is done
    refuse: bool = False  # bookings are refused with 422
    duplicate_webhooks: bool = False  # each webhook is sent twice, with the same id
    out_of_order_webhooks: bool = False  # a later status's webhook goes out before an earlier one's
    fail_after_commit: bool = False  # a change is made, then answered 503
    times: int | None = None  # how many /v1 calls the faults act on before they clear themselves; None: until cleared

    @classmethod
    def from_json(cls, body: object) -> "Faults":
        if not isinstance(body, dict):
            raise BadFaults("faults must be a JSON object")
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise BadFaults(f"unknown faults: {', '.join(sorted(unknown))}")
        status, delay, times = body.get("status"), body.get("delay_seconds", 0), body.get("times")
        if status is not None and (type(status) is not int or not 400 <= status <= 599):
            raise BadFaults("status must be an HTTP error status (400-599)")
        if type(delay) not in (int, float) or not 0 <= delay <= 120:
            raise BadFaults("delay_seconds must be between 0 and 120")
        if times is not None and (type(times) is not int or times < 1):
            raise BadFaults("times must be a positive whole number")
        flags = {
            name: body.get(name, False)
            for name in ("refuse", "duplicate_webhooks", "out_of_order_webhooks", "fail_after_commit")
        }
        if any(type(value) is not bool for value in flags.values()):
            raise BadFaults("refuse, duplicate_webhooks, out_of_order_webhooks and fail_after_commit are true or false")
        return cls(status=status, delay_seconds=float(delay), times=times, **flags)

    def as_json(self) -> dict:
        return asdict(self)

    @property
    def acts_on_calls(self) -> bool:
        return self.status is not None or self.delay_seconds > 0 or self.refuse or self.fail_after_commit


NONE = Faults()
