"""A throwaway PostgreSQL server for the tests, started with the machine's own binaries.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster is
created and started as the `postgres` system user, in a private directory, on a free
loopback port, with its socket in that directory. Nothing outside the directory is touched.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No server binaries on this machine (the message says how to get them)."""


def find_bindir() -> Path:
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists() and (directory / "postgres").exists():
            return directory
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; "
        "install them (Debian: apt-get install postgresql) to run the PostgreSQL tests"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    user: str

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        result = self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                           "--no-sync", "--locale=C")
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {result.stderr.strip()}")
        self._launch()

    def _launch(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        result = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                           "-w", "-t", "60", "start")
        if result.returncode != 0:
            log = (self.root / "server.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"PostgreSQL did not start: {result.stderr.strip()}\n{log}")

    def pause(self) -> None:
        """An outage: a fast shutdown (open connections are cut, transactions under way roll back);
        the data directory stays, for `resume`."""
        result = self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")
        if result.returncode != 0:
            raise PostgresUnavailable(f"PostgreSQL did not stop: {result.stderr.strip()}")

    def resume(self) -> None:
        """Start the server again after `pause`, on the same port and data directory."""
        self._launch()
        self.wait_ready()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise PostgresUnavailable("PostgreSQL did not accept connections in time")


def start_server() -> PostgresServer:
    bindir = find_bindir()
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(user)
        except KeyError as exc:
            raise PostgresUnavailable("running as root but there is no 'postgres' user to run the server") from exc
    root = Path(tempfile.mkdtemp(prefix="zhenggai-pg-"))
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, root, free_port(), user)
    try:
        server.start()
        server.wait_ready()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
