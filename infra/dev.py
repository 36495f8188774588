"""Run the Atrium demo on this machine: `make demo` (or `.venv/bin/python infra/dev.py`).

With no DATABASE_URL / REDIS_URL it starts the embedded PostgreSQL and Redis (they keep running
after this script ends; `make stop` stops them), migrates every schema, seeds the demo mall, then
runs gunicorn (HTTP), uvicorn (websockets), the POS ingest (uvicorn), a Celery worker and beat
until Ctrl-C.
Environment: ATRIUM_PORT (default 8000; websockets on the next port, the POS ingest on the one
after), ATRIUM_DEMO_PASSWORD.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_PASSWORD = "atrium-demo-2026"  # noqa: S105 - the published demo password, not a secret
DEMO_LOGINS = {"provider admin": "admin", "mall owner": "owner", "merchant cashier": "cashier"}
DEMO_TENANT_HOST = "demo-plaza.localhost"  # *.localhost is loopback in browsers and curl
TENANT_APIS = ("console", "merchant", "member", "integration")
BANNER_DELAY_SECONDS = 4.0  # let the servers log their start-up before the banner
STOP_TIMEOUT_SECONDS = 10.0

_stop_signal: int | None = None


def _request_stop(signum: int, _frame: FrameType | None) -> None:
    global _stop_signal
    _stop_signal = signum


def _prepare_environment() -> tuple[int, Path]:
    """Export the settings, service URLs and demo password the child processes share."""
    import environ

    env_file = REPO_ROOT / ".env"
    if env_file.exists():  # the same file the settings read, so both agree on the services
        environ.Env.read_env(str(env_file))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atrium.settings.dev")
    os.environ.setdefault("ATRIUM_DEMO_PASSWORD", DEMO_PASSWORD)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    port = int(os.environ.get("ATRIUM_PORT", "8000"))
    os.environ.setdefault("PUBLIC_PORT", str(port))
    # Websockets are served by uvicorn on the next port (see _server_commands): pages connect there.
    os.environ.setdefault("WEBSOCKET_PUBLIC_PORT", str(port + 1))

    # Imported only now: importing `atrium` may load its Celery app, which reads the settings name.
    from atrium import embedded

    if "DATABASE_URL" not in os.environ:
        print(f"Embedded PostgreSQL under {embedded.data_dir()} (the first start runs initdb)")
        os.environ["DATABASE_URL"] = embedded.ensure_postgres()
    if "REDIS_URL" not in os.environ:
        os.environ["REDIS_URL"] = embedded.ensure_redis()
    return port, embedded.data_dir()


def _manage(*args: str, quiet: bool = False) -> int:
    output = subprocess.DEVNULL if quiet else None
    command = [sys.executable, str(REPO_ROOT / "manage.py"), *args]
    return subprocess.run(command, cwd=REPO_ROOT, stdout=output, stderr=output).returncode


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server_commands(port: int, data_dir: Path) -> dict[str, list[str]]:
    """The long-running processes: HTTP always; websockets, the POS ingest and Celery once those
    modules exist."""
    python = [sys.executable, "-m"]
    bind = ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]  # no shared ~/.gunicorn socket
    threads = ["--workers", "2", "--threads", "4", "--worker-class", "gthread"]
    commands = {"web": [*python, "gunicorn", "atrium.wsgi:application", *bind, *threads]}
    if importlib.util.find_spec("atrium.asgi"):
        listen = ["--host", "127.0.0.1", "--port", str(port + 1), "--lifespan", "off"]
        commands["websockets"] = [*python, "uvicorn", "atrium.asgi:application", *listen]
    if importlib.util.find_spec("atrium.ingest"):
        # Lifespan on: the ingest stops its writer threads at shutdown.
        listen = ["--host", "127.0.0.1", "--port", str(port + 2), "--lifespan", "on"]
        commands["ingest"] = [*python, "uvicorn", "atrium.ingest:application", *listen]
    if importlib.util.find_spec("atrium.celery"):
        celery = [*python, "celery", "-A", "atrium"]
        commands["worker"] = [*celery, "worker", "-l", "info", "--concurrency", "2"]
        schedule = ["--schedule", str(data_dir / "celerybeat-schedule")]  # unless a DB scheduler
        commands["beat"] = [*celery, "beat", "-l", "info", *schedule]
    return commands


def _banner(port: int, names: list[str]) -> str:
    provider = f"http://localhost:{port}"
    tenant = f"http://{DEMO_TENANT_HOST}:{port}"
    password = os.environ["ATRIUM_DEMO_PASSWORD"]
    urls = {
        "provider console": f"{provider}/",
        "provider API docs": f"{provider}/api/provider/v1/docs",
        "tenant console": f"{tenant}/console/",
        "merchant portal": f"{tenant}/merchant/",
        "member app": f"{tenant}/m/",
        **{f"{api} API docs": f"{tenant}/api/{api}/v1/docs" for api in TENANT_APIS},
        "health": f"{provider}/healthz  {provider}/readyz",
    }
    if "websockets" in names:
        urls["websockets"] = f"ws://{DEMO_TENANT_HOST}:{port + 1}/ws/"
    if "ingest" in names:
        # Production's nginx routes POS sales to the ingest; in the demo gunicorn on the main
        # port serves them too, so either URL records a sale.
        urls["POS sales ingest"] = f"http://{DEMO_TENANT_HOST}:{port + 2}/api/integration/v1/sales"
    return "\n".join(
        [
            "",
            f"Atrium demo is up ({', '.join(names)}). Ctrl-C stops it; `make stop` stops the databases.",
            *(f"  {label:<21} {url}" for label, url in urls.items()),
            "  demo logins (user / password):",
            *(f"    {role:<19} {user} / {password}" for role, user in DEMO_LOGINS.items()),
            "",
        ]
    )


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every child, wait up to STOP_TIMEOUT_SECONDS, then SIGKILL its process group."""
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {STOP_TIMEOUT_SECONDS:.0f} s; killing it")
        # Also ends whatever the child left behind (gunicorn workers, celery pool processes).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _supervise(port: int, children: dict[str, subprocess.Popen[bytes]]) -> int:
    announced = False
    start = time.monotonic()
    while _stop_signal is None:
        for name, child in children.items():
            code = child.poll()
            if code is not None:
                print(f"{name} exited with code {code}; stopping the rest", file=sys.stderr)
                _stop_children(children)
                return code if code > 0 else 1
        started = time.monotonic() - start > BANNER_DELAY_SECONDS
        if not announced and started and _port_in_use(port):
            print(_banner(port, list(children)), flush=True)
            announced = True
        time.sleep(0.3)
    print(f"\nReceived {signal.Signals(_stop_signal).name}; stopping...", flush=True)
    _stop_children(children)
    return 0


def main() -> int:
    """Prepare the database and demo data, then run the servers until a signal or a crash."""
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    port, data_dir = _prepare_environment()
    commands = _server_commands(port, data_dir)
    ports = [port]
    if "websockets" in commands:
        ports.append(port + 1)
    if "ingest" in commands:
        ports.append(port + 2)
    if busy := [str(p) for p in ports if _port_in_use(p)]:
        print(f"error: port {', '.join(busy)} in use; set ATRIUM_PORT", file=sys.stderr)
        return 1

    steps = [["migrate_schemas", "--noinput"]]  # the tenant template schema too
    if _manage("help", "seed_demo", quiet=True) == 0:
        steps.append(["seed_demo"])  # idempotent: provider admin, demo mall, its staff
    else:
        print("warning: no `seed_demo` command yet; starting without demo data", file=sys.stderr)
    for step in steps:
        if _stop_signal is not None:
            return 0
        if _manage(*step) != 0:
            return 0 if _stop_signal is not None else 1
    if _stop_signal is not None:
        return 0

    children: dict[str, subprocess.Popen[bytes]] = {}
    for name, command in commands.items():
        # Own process group: Ctrl-C reaches only this script, which stops the children in order.
        children[name] = subprocess.Popen(command, cwd=REPO_ROOT, process_group=0)
    return _supervise(port, children)


if __name__ == "__main__":
    sys.exit(main())
