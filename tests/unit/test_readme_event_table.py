"""The README's table of how events flow says what the contract and the broker topology say."""

import re
from pathlib import Path

from shared.contract import CATALOGUE
from shared.messaging.topology import CLINIC_TOPOLOGY

README = Path(__file__).resolve().parents[2] / "README.md"
CONSUMING_SERVICES = {
    "scheduler.events": "scheduler",
    "transport.events": "transport",
    "notifications.events": "notifications",
}


def event_table() -> dict[str, str]:
    """Each event named in the table, with the consumers cell of its row."""
    text = README.read_text()
    table = text[text.index("| producer | event | consumers |") :]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        _, events, consumers = [cell.strip() for cell in line.strip("|").split("|")]
        for name in re.findall(r"`([a-z_.]+)`", events):
            rows[name] = consumers
    return rows


def test_the_readme_lists_every_event_of_the_contract_and_no_other():
    assert sorted(event_table()) == sorted(CATALOGUE)


def test_the_readme_names_a_service_as_consumer_exactly_of_the_events_its_queue_is_bound_to():
    table = event_table()
    for queue, service in CONSUMING_SERVICES.items():
        bound = set(CLINIC_TOPOLOGY.queue(queue).routing_keys)
        named = {event for event, consumers in table.items() if re.search(rf"\b{service}\b", consumers)}
        assert named == bound, f"{queue}: README names {sorted(named)}, the topology binds {sorted(bound)}"
