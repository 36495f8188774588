"""infra/: the compose file, nginx config and Dockerfile hold together (no Docker needed).

`docker compose config` is the real check where Docker Compose is installed; these tests keep
the parts that matter from drifting on machines without it.
"""

import re
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"
# Service keys of the Compose specification (compose-spec/schema/compose-spec.json) used here.
SERVICE_KEYS = {
    "build", "command", "depends_on", "deploy", "entrypoint", "env_file", "environment",
    "expose", "healthcheck", "image", "init", "ports", "restart", "stop_grace_period",
    "volumes", "user", "working_dir",
}  # fmt: skip
APP_SERVICES = ("web", "asgi", "ingest", "worker", "beat")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((INFRA / "compose.yaml").read_text())


def test_compose_has_every_process_and_service(compose):
    assert set(compose["services"]) == {
        "migrate", "web", "asgi", "ingest", "worker", "beat", "postgres", "redis", "nginx",
    }  # fmt: skip
    for name, service in compose["services"].items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)


def test_compose_references_resolve(compose):
    services, volumes = set(compose["services"]), set(compose["volumes"])
    for name, service in compose["services"].items():
        assert set(service.get("depends_on", {})) <= services, name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/", "$")):
                assert source in volumes, (name, source)


def test_processes_start_only_after_migrations(compose):
    services = compose["services"]
    assert services["migrate"]["command"] == [
        "python", "manage.py", "migrate_schemas", "--noinput",
    ]  # fmt: skip
    assert services["migrate"]["restart"] == "no"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name


def test_process_commands(compose):
    services = compose["services"]
    assert "command" not in services["web"]  # the image's gunicorn default
    assert services["asgi"]["command"][:2] == ["uvicorn", "atrium.asgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "atrium", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "atrium", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    ingest = services["ingest"]["command"]
    assert ingest[:2] == ["uvicorn", "atrium.ingest:application"]
    options = " ".join(ingest[2:])  # `--name=value` or `--name value`
    for option, value in (
        ("--loop", "uvloop"),
        ("--http", "httptools"),
        ("--port", "8002"),
        ("--workers", re.escape("${INGEST_PROCESSES:-2}")),
        ("--lifespan", "on"),  # the writers are stopped at shutdown
    ):
        assert re.search(rf"(^| ){option}[= ]{value}( |$)", options), option
    assert services["ingest"]["expose"] == ["8002"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"


def test_health_checks_use_the_health_endpoints(compose):
    services = compose["services"]
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])
    # Answered by Django through the ingest's fallback, for the tenant router's host.
    ingest_check = " ".join(services["ingest"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8002/readyz" in ingest_check
    assert "BASE_DOMAIN" in ingest_check
    assert "/healthz" in " ".join(services["nginx"]["healthcheck"]["test"])
    for name in ("postgres", "redis", "asgi", "worker"):
        assert services[name]["healthcheck"]["test"], name


def test_variables_without_default_are_in_the_env_example(compose):
    text = (INFRA / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = (INFRA / ".env.example").read_text()
    assert required == {"POSTGRES_PASSWORD", "BASE_DOMAIN"}
    for name in required:
        assert re.search(rf"^{name}=", example, re.MULTILINE), name


def test_nginx_routes_websockets_to_asgi_and_the_rest_to_web():
    conf = (INFRA / "nginx.conf").read_text()
    assert conf.count("{") == conf.count("}")
    assert re.search(r"upstream atrium_web \{\s*server web:8000;", conf)
    assert re.search(r"upstream atrium_asgi \{\s*server asgi:8001;", conf)
    ws = re.search(r"location /ws/ \{(.*?)\n    \}", conf, re.DOTALL)
    assert ws is not None
    assert "proxy_pass http://atrium_asgi;" in ws.group(1)
    assert "proxy_set_header Upgrade $http_upgrade;" in ws.group(1)
    rest = re.search(r"location / \{(.*?)\n    \}", conf.split("listen 443")[1], re.DOTALL)
    assert rest is not None
    assert "proxy_pass http://atrium_web;" in rest.group(1)


def test_nginx_routes_single_pos_sales_to_the_ingest(compose):
    conf = (INFRA / "nginx.conf").read_text()
    assert re.search(r"upstream atrium_ingest \{\s*server ingest:8002;", conf)
    # Exactly the single-sale path (not /sales/batch, not a prefix), and only there.
    assert conf.count("proxy_pass http://atrium_ingest;") == 1
    https = conf.split("listen 443")[1]
    locations = dict(
        re.findall(r"^    location (.+?) \{(.*?)\n    \}", https, re.DOTALL | re.MULTILINE)
    )
    sales = locations["= /api/integration/v1/sales"]
    assert "proxy_pass http://atrium_ingest;" in sales
    # The same upstream keep-alive and headers as everything else (nginx does not inherit a
    # location's proxy_set_header lines), so the ingest sees the caller as web does.
    headers = re.findall(r"proxy_http_version .*|proxy_set_header .*", locations["/"])
    assert len(headers) == 6
    for line in headers:
        assert line in sales, line
    assert compose["services"]["nginx"]["depends_on"]["ingest"] == {"condition": "service_healthy"}


def test_dockerfile_is_slim_non_root_and_serves_gunicorn():
    dockerfile = (INFRA / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in dockerfile
    assert "pip install -r requirements.lock" in dockerfile
    assert "pip install --no-deps -e ." in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^USER atrium$", dockerfile, re.MULTILINE)
    assert 'CMD ["gunicorn", "atrium.wsgi:application"' in dockerfile
