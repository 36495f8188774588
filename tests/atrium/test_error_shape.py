"""One error shape everywhere: {code, message, extra} with the right status."""

import pytest

from tests.conftest import BASE, Api, host_of

TENANT_SURFACES = ["console", "merchant", "member", "integration"]


def _is_error(body, code):
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)


@pytest.mark.parametrize("surface", TENANT_SURFACES)
def test_unknown_api_path_is_json_404(mall_a, surface):
    response = Api(host_of("mall-a")).get(f"/api/{surface}/v1/no-such-thing")
    assert response.status_code == 404
    _is_error(response.json(), "not_found")


def test_unknown_provider_api_path_is_json_404(db):
    response = Api(BASE).get("/api/provider/v1/no-such-thing")
    assert response.status_code == 404
    _is_error(response.json(), "not_found")


@pytest.mark.parametrize(
    ("host", "path"),
    [
        (f"mall-a.{BASE}", "/api/console/v1/me"),
        (f"mall-a.{BASE}", "/api/merchant/v1/me"),
        (f"mall-a.{BASE}", "/api/member/v1/me"),
        (f"mall-a.{BASE}", "/api/integration/v1/ping"),
        (BASE, "/api/provider/v1/tenants"),
    ],
)
def test_missing_credentials_are_json_401_on_every_surface(mall_a, host, path):
    response = Api(host).get(path)
    assert response.status_code == 401
    _is_error(response.json(), "auth.unauthenticated")


@pytest.mark.parametrize(
    ("host", "path"),
    [
        (f"mall-a.{BASE}", "/api/console/v1/auth/login"),
        (f"mall-a.{BASE}", "/api/merchant/v1/auth/login"),
        (f"mall-a.{BASE}", "/api/member/v1/auth/refresh"),
        (BASE, "/api/provider/v1/auth/login"),
    ],
)
@pytest.mark.parametrize("body", [{"username": 5}, [], "not json"])
def test_invalid_bodies_are_json_4xx(mall_a, host, path, body):
    api = Api(host)
    if body == "not json":
        response = api.client.post(path, data="{oops", content_type="application/json")
        assert response.status_code == 400
        _is_error(response.json(), "request.malformed")
    else:
        response = api.post(path, body)
        assert response.status_code == 422
        _is_error(response.json(), "request.invalid")


def test_validation_errors_name_the_field(console_a):
    response = console_a.post("/api/console/v1/merchants", {"name": ""})
    assert response.status_code == 422
    _is_error(response.json(), "request.invalid")
    assert response.json()["extra"]["errors"][0]["loc"] == ["body", "payload", "name"]


def test_bad_path_parameter_is_422(console_a):
    response = console_a.get("/api/console/v1/merchants/not-a-uuid")
    assert response.status_code == 422
    _is_error(response.json(), "request.invalid")


def test_unknown_object_is_404_with_a_stable_code(console_a):
    response = console_a.get("/api/console/v1/merchants/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404
    _is_error(response.json(), "merchant.not_found")


def test_every_response_carries_a_request_id(console_a):
    response = console_a.get("/api/console/v1/me", headers={"X-Request-ID": "req-12345678"})
    assert response["X-Request-ID"] == "req-12345678"
    generated = console_a.get("/api/console/v1/me")
    assert len(generated["X-Request-ID"]) == 32
