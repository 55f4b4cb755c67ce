"""Every feature route is documented in the OpenAPI schema: summary, description, its
feature's tag, the error bodies and the bearer token it needs; and answers 401 without one."""

from __future__ import annotations

import importlib

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.api.app import create_app

FEATURES = ("data", "backtest", "jobs", "regimes", "models", "risk", "paper", "alerts")
ROUTES = [
    (feature, route)
    for feature in FEATURES
    for route in importlib.import_module(f"app.api.routes.{feature}").router.routes
    if isinstance(route, APIRoute)
]


def test_every_route_is_documented_with_its_errors_and_security() -> None:
    schema = create_app().openapi()
    assert len(ROUTES) >= 30
    for feature, route in ROUTES:
        for method in route.methods or ():
            doc = schema["paths"][route.path][method.lower()]
            where = f"{method} {route.path}"
            assert doc["summary"] and len(doc["description"]) > 40, where
            assert doc["tags"] == [feature], where
            for status in ("401", "403", "404", "409", "422", "429", "500"):
                assert doc["responses"][status]["content"]["application/json"], (where, status)
            assert doc["security"] == [{"HTTPBearer": []}], where


def test_every_route_needs_a_token(client: TestClient) -> None:
    for _feature, route in ROUTES:
        method = sorted(route.methods or ())[0]
        path = route.path.replace("{job_id}", "1")
        response = client.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
