"""The API reference page: public like the document it shows, its assets served by the app from a Python package
(never a CDN), under a Content-Security-Policy that allows no inline script."""

import re

import pytest

from services.scheduler.adapters.clinic_config import load_clinic
from services.scheduler.bootstrap import bootstrap
from shared.settings import Settings


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINIC_CONFIG", raising=False)
    settings = Settings(
        service="scheduler",
        broker_url="memory://",
        database_url=f"sqlite:///{tmp_path / 'scheduler.sqlite3'}",
        port=0,
        service_token="reference-test-token",
        scheduler_url="http://127.0.0.1:0",
    )
    return bootstrap(settings, clinic=load_clinic()).app.test_client()


def test_the_reference_page_is_public_and_loads_only_scripts_of_this_origin(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    sources = re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/api/docs/") for source in sources)
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page), "an inline script"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "default-src 'none'" in policy


def test_every_asset_the_page_names_is_served_by_the_app(client):
    page = client.get("/api/docs").get_data(as_text=True)

    for source in re.findall(r'(?:src|href)="(/api/docs/[^"]+)"', page):
        response = client.get(source)
        assert response.status_code == 200, source
        assert response.data, source
        assert "Content-Security-Policy" in response.headers


def test_the_page_shows_the_served_document_and_sends_it_to_no_validator(client):
    start = client.get("/api/docs/start.js").get_data(as_text=True)

    assert '"/api/openapi.json"' in start
    assert "validatorUrl: null" in start
    assert client.get("/api/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "name", ["index.html", "..%2Fswagger-ui.css", "swagger-initializer.js", "oauth2-redirect.html"]
)
def test_no_other_file_of_the_package_is_served(client, name):
    assert client.get(f"/api/docs/{name}").status_code == 404


def test_the_api_itself_still_wants_the_token(client):
    assert client.get("/api/clinic").status_code == 401
