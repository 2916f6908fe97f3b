"""A real PostgreSQL server for the tests, from the Debian package, in a temp dir on a free port.

Nothing is skipped: a server that cannot start fails the tests that need it, with its log. PostgreSQL
refuses to run as root, so as root the server runs as the package's `postgres` user.
"""

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.ports import free_ports

# Another process may take the free port between the probe and the server's bind.
START_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    """The test server could not be started: the reason and the server's log."""


@dataclass(frozen=True)
class PostgresServer:
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database: each test has its own tables and sees no other test's rows."""
        name = f"test_{uuid.uuid4().hex}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _bin_dir() -> Path:
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    # Debian keeps the server's programs off PATH, one folder per major version.
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise PostgresUnavailable("no pg_ctl on PATH nor in /usr/lib/postgresql/*/bin: apt-get install postgresql")
    return Path(found[-1]).parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], log: Path) -> None:
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        server_log = log.read_text() if log.exists() else ""
        raise PostgresUnavailable(
            f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}\n{server_log}"
        )


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="dunning-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "-N"], log)
        for attempt in range(1, START_ATTEMPTS + 1):
            (port,) = free_ports(1)
            # fsync off: a test database need not survive a power cut, and it starts and writes faster.
            options = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c fsync=off"
            try:
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"], log)
            except PostgresUnavailable:
                if attempt == START_ATTEMPTS:
                    raise
                continue
            break
        try:
            yield PostgresServer(port)
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], log)
    finally:
        shutil.rmtree(root, ignore_errors=True)
