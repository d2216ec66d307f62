"""What transport and a ride provider say to each other, as plain values: a booking, the provider's ride, a webhook.

Pure: no requests, no Flask. The HTTP client (adapters/ride_provider.py) and the webhook verifier
(adapters/webhook_signatures.py) turn the wire format into these.
"""

from dataclasses import dataclass
from datetime import datetime

# The provider's own statuses, as its API and webhooks spell them.
WILL_CALL = "will_call"
SCHEDULED = "scheduled"
DISPATCHED = "dispatched"
DRIVER_ASSIGNED = "driver_assigned"
DRIVER_ARRIVED = "driver_arrived"
COMPLETED = "completed"
CANCELLED = "cancelled"
PROVIDER_STATUSES = (WILL_CALL, SCHEDULED, DISPATCHED, DRIVER_ASSIGNED, DRIVER_ARRIVED, COMPLETED, CANCELLED)

# Webhook types the provider sends today; a verified webhook of another type is still returned, so that a type the
# provider adds later can be acknowledged and ignored instead of being retried for ever.
DRIVER_ASSIGNED_WEBHOOK = "ride.driver_assigned"
DRIVER_ARRIVED_WEBHOOK = "ride.driver_arrived"
COMPLETED_WEBHOOK = "ride.completed"
CANCELLED_WEBHOOK = "ride.cancelled"
WEBHOOK_TYPES = (DRIVER_ASSIGNED_WEBHOOK, DRIVER_ARRIVED_WEBHOOK, COMPLETED_WEBHOOK, CANCELLED_WEBHOOK)


@dataclass(frozen=True)
class ProviderBooking:
    """A ride home to book. The addresses are patient data: they go to the provider and nowhere else."""

    ride_id: str
    pickup_at: datetime
    pickup_address: str
    dropoff_address: str
    will_call: bool = True

    def __repr__(self) -> str:
        # A booking that ends up in a traceback or a log line must not carry the addresses with it.
        return (
            f"ProviderBooking(ride_id={self.ride_id!r}, pickup_at={self.pickup_at.isoformat()!r}, "
            f"will_call={self.will_call!r})"
        )


@dataclass(frozen=True)
class ProviderRide:
    """The provider's ride as it answered: its own id, our ride id as reference, its status."""

    id: str
    reference: str
    status: str
    pickup_at: datetime | None


@dataclass(frozen=True)
class WebhookNotice:
    """A verified webhook: the provider's ride changed status. The same id may arrive more than once."""

    id: str
    type: str
    provider_ride_id: str
    reference: str
    status: str
    occurred_at: datetime
