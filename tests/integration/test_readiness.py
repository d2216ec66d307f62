"""/readyz on the real broker and PostgreSQL, each reached through a TCP proxy the test takes down: an outage on
demand that leaves the real servers (which other tests use) running."""

import pytest
from integration.helpers import BrokerProxy, eventually, running, wait_until_ready
from sqlalchemy.engine import make_url

from services.transport.bootstrap import bootstrap as bootstrap_transport
from shared.messaging import RetryPolicy
from shared.settings import Settings

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.1)
# Generous: the broker's answer is kept a few seconds, and the machine is shared.
DEADLINE = 60.0


@pytest.fixture
def broker_proxy(vhost):
    proxy = BrokerProxy()
    yield proxy
    proxy.close()


@pytest.fixture
def database_proxy(postgres_url):
    url = make_url(postgres_url)
    proxy = BrokerProxy(target=(url.host or "127.0.0.1", url.port or 5432))  # any TCP server will do
    yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxy.close()


def transport(broker_url: str, database_url: str):
    settings = Settings(
        service="transport",
        broker_url=broker_url,
        database_url=database_url,
        port=0,
        service_token="readiness-test-token",
        scheduler_url="http://127.0.0.1:1",
    )
    runtime = bootstrap_transport(settings, retry=FAST_RETRY)
    return runtime, runtime.workers[0], runtime.workers[1]


def readyz(client, *, status: int, also=lambda body: True):
    """The /readyz body once it answers ``status`` and ``also(body)`` holds; None until then."""
    reply = client.get("/readyz")
    body = reply.get_json()
    return body if reply.status_code == status and also(body) else None


def test_readyz_says_not_ready_while_the_broker_is_down_naming_the_broker_and_the_consumer_and_ready_again_after(
    vhost, broker_proxy, tmp_path
):
    runtime, relay, consumer = transport(broker_proxy.url(vhost.name), f"sqlite:///{tmp_path / 'transport.sqlite3'}")
    client = runtime.app.test_client()
    with running(relay, name="relay"), running(consumer, name="consumer"):
        wait_until_ready(consumer)
        ready = eventually(lambda: readyz(client, status=200), what="transport being ready", deadline=DEADLINE)

        broker_proxy.down()
        outage = eventually(
            lambda: readyz(
                client,
                status=503,
                also=lambda body: not body["checks"]["broker"]["ok"] and not body["checks"]["consumer"]["ok"],
            ),
            what="/readyz answering 503 with the broker and the consumer failing",
            deadline=DEADLINE,
        )
        alive_during_outage = client.get("/healthz")

        broker_proxy.up()
        back = eventually(lambda: readyz(client, status=200), what="transport ready again", deadline=DEADLINE)

    assert ready["service"] == "transport"
    assert ready["status"] == "ready"
    assert ready["checks"] == {
        "database": {"ok": True},
        "broker": {"ok": True},
        "consumer": {"ok": True},
        "outbox": {"ok": True},
    }
    assert ready["consumer"]["consuming"] is True
    assert ready["outbox"]["pending"] == 0
    assert ready["figures"] == {"rides_at_risk": 0}

    assert outage["status"] == "not_ready"
    assert outage["checks"]["broker"]["detail"].startswith("unreachable")
    assert "not consuming" in outage["checks"]["consumer"]["detail"]
    assert outage["checks"]["database"] == {"ok": True}
    assert outage["consumer"]["consuming"] is False
    assert "guest" not in str(outage), "a readiness answer must not show the broker's credentials"
    assert alive_during_outage.status_code == 200
    assert alive_during_outage.get_json()["status"] == "ok"

    assert back["status"] == "ready"


def test_readyz_says_not_ready_while_the_database_does_not_answer_and_healthz_still_says_the_process_lives(
    broker_url, database_proxy
):
    proxy, database_url = database_proxy
    runtime, relay, consumer = transport(broker_url, database_url)
    client = runtime.app.test_client()
    with running(consumer, name="consumer"):
        wait_until_ready(consumer)
        eventually(lambda: readyz(client, status=200), what="transport being ready", deadline=DEADLINE)

        proxy.down()
        outage = eventually(
            lambda: readyz(client, status=503, also=lambda body: not body["checks"]["database"]["ok"]),
            what="/readyz answering 503 with the database failing",
            deadline=DEADLINE,
        )
        alive = client.get("/healthz")

        proxy.up()
        back = eventually(lambda: readyz(client, status=200), what="transport ready again", deadline=DEADLINE)

    assert outage["status"] == "not_ready"
    assert outage["checks"]["database"]["detail"]
    assert outage["checks"]["outbox"] == {"ok": False, "detail": "unknown while the database does not answer"}
    assert outage["checks"]["broker"] == {"ok": True}
    assert outage["figures"] == {}
    assert alive.status_code == 200
    assert alive.get_json()["service"] == "transport"
    assert back["checks"]["database"] == {"ok": True}
