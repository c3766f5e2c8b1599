"""PostgreSQL 15 from the system's server binaries, in a data directory of the stack.

initdb and postgres refuse to run as root: when we are root, every server binary runs
as an unprivileged user (`postgres` if it exists, else a `candleflow` system user that
is created once) through `runuser`, and the stack's `postgres/` directory belongs to
that user. When that user cannot reach the stack directory (a clone in root's mode-700
home), the cluster lives in `/var/lib/candleflow/stacks/<digest of the stack dir>/`
and the stack's `postgres` becomes a symlink to it: nothing for the user to do, and
nobody's home directory opened up. As a normal user the binaries run directly, in
the stack directory itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from candleflow.stack import aio, procs
from candleflow.stack.exceptions import MissingTool, StackError
from candleflow.stack.tls import TlsFiles

PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: Where root's stacks keep clusters their server user could not reach in place.
RELOCATED = Path("/var/lib/candleflow/stacks")
ROLE = "candleflow"
DATABASE = "candleflow"

#: Replication connections (a replica's base backup and stream) are named apart in pg_hba.
DATABASES = ("all", "replication")
#: Replication slot the stack's replica streams through: the primary keeps WAL it needs.
SLOT = "candleflow_replica"


def hba(tls: bool) -> str:
    """pg_hba.conf: trust on the unix socket (inside the stack dir) and on 127.0.0.1 only;
    with TLS, a connection from 127.0.0.1 that does not encrypt is rejected."""
    lines = ["# written by `candleflow stack up` on every start"]
    lines += [f"local      {db:<12} all                  trust" for db in DATABASES]
    if tls:
        lines += [f"hostssl    {db:<12} all   127.0.0.1/32   trust" for db in DATABASES]
        lines += [f"hostnossl  {db:<12} all   127.0.0.1/32   reject" for db in DATABASES]
    else:
        lines += [f"host       {db:<12} all   127.0.0.1/32   trust" for db in DATABASES]
    return "\n".join(lines) + "\n"


def server_user() -> str | None:
    """The user to run server binaries as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", ROLE):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", ROLE],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise StackError(
            f"PostgreSQL cannot run as root and creating a '{ROLE}' system user failed "
            f"({result.stderr.strip()}): create an unprivileged user named 'postgres'"
        )
    return ROLE


class PostgresServer:
    """One PostgreSQL cluster living in `home` (data, socket directory, log)."""

    def __init__(self, home: Path, bin_dir: Path = PG_BIN, relocated: Path = RELOCATED) -> None:
        self.home = home
        self.bin_dir = bin_dir
        self.relocated = relocated
        self._user: str | None = None

    @property
    def location(self) -> Path:
        """The cluster's real directory (`home`, or where its symlink points)."""
        return self.home.resolve()

    @property
    def data(self) -> Path:
        return self.location / "data"

    @property
    def run_dir(self) -> Path:
        return self.location / "run"

    @property
    def log_path(self) -> Path:
        return self.location / "postgres.log"

    def _bin(self, name: str) -> str:
        path = self.bin_dir / name
        if not path.is_file():
            raise MissingTool(
                f"PostgreSQL server binaries not found in {self.bin_dir}: "
                "install postgresql-15 (apt-get install postgresql-15)"
            )
        return str(path)

    def _as_server(self, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self._user, "--"] if self._user else []
        return subprocess.run(
            prefix + argv,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=self.location if self.location.is_dir() else "/",
            timeout=timeout,
            check=False,
        )

    @property
    def tls_dir(self) -> Path:
        return self.location / "tls"

    def prepare(self, port: int, tls: TlsFiles | None = None, primary_port: int | None = None) -> None:
        """Binaries, ownership, the cluster (first time only: initdb, or with
        `primary_port` a base backup of that server that streams from it as a hot
        standby) and this run's settings; with `tls`, connections may use TLS
        (`sslmode` up to verify-full with the stack's CA) and must from 127.0.0.1."""
        initdb = self._bin("initdb")
        self._bin("pg_ctl")
        self._user = server_user()
        if self._user and not self.home.is_symlink() and not self._reachable(self.home.parent):
            self._relocate()
        self.location.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(exist_ok=True)
        if self._user:
            self._hand_over()
        if not (self.data / "PG_VERSION").is_file():
            if primary_port is None:
                self._initdb(initdb)
            else:
                self._base_backup(primary_port)
        self._write(self.data / "pg_hba.conf", hba(tls is not None))
        if tls is not None:
            self._install_tls(tls)
        self._write(self.data / "candleflow.conf", self._settings(port, tls is not None))

    def _initdb(self, initdb: str) -> None:
        result = self._as_server(
            [initdb, "-D", str(self.data), "-U", ROLE, "-E", "UTF8", "--no-locale",
             "--auth-local=trust", "--auth-host=trust"],
        )  # fmt: skip
        if result.returncode != 0:
            raise StackError(f"initdb into {self.data} failed:\n{result.stderr.strip()}")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude_if_exists = 'candleflow.conf'\n")

    def _base_backup(self, primary_port: int) -> None:
        """A copy of the primary through its replication protocol; `-R` makes it a standby
        that streams from there through the stack's replication slot (created anew)."""
        result = self._as_server(
            [self._bin("pg_basebackup"), "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
             "-C", "-S", SLOT, "-d", f"host=127.0.0.1 port={primary_port} user={ROLE} application_name=replica"],
            timeout=300,
        )  # fmt: skip
        if result.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise StackError(
                f"pg_basebackup from 127.0.0.1:{primary_port} into {self.data} failed:\n{result.stderr.strip()}"
            )

    def _install_tls(self, tls: TlsFiles) -> None:
        """The server's certificate and key where the server user owns them (the key 0600)."""
        self.tls_dir.mkdir(mode=0o700, exist_ok=True)
        if self._user:
            user = pwd.getpwnam(self._user)
            os.chown(self.tls_dir, user.pw_uid, user.pw_gid)
        self._write(self.tls_dir / "server.crt", tls.server_cert.read_text() + tls.ca.read_text())
        key = self.tls_dir / "server.key"
        key.touch(mode=0o600)
        key.chmod(0o600)
        self._write(key, tls.server_key.read_text())

    def _reachable(self, directory: Path) -> bool:
        """True when the server user can enter `directory` (and so every parent)."""
        return self._as_server(["test", "-x", str(directory)]).returncode == 0

    def _relocate(self) -> None:
        """Move the cluster where the server user can reach it; `home` becomes a symlink."""
        digest = hashlib.sha256(str(self.home.absolute()).encode()).hexdigest()[:16]
        target = self.relocated / digest / "postgres"
        target.parent.mkdir(parents=True, exist_ok=True)
        for directory in (self.relocated.parent, self.relocated, target.parent):
            if directory.stat().st_uid == 0:
                directory.chmod(0o755)
        (target.parent / "OWNER").write_text(f"{self.home.absolute()}\n")
        if (self.home / "data" / "PG_VERSION").is_file():
            if target.exists():
                raise StackError(f"both {self.home} and {target} hold a cluster: remove the one you do not need")
            shutil.move(str(self.home), str(target))
        else:
            # No symlink means the stack directory was removed since: so goes its cluster
            # (its ledger would not match the new broker's topics).
            shutil.rmtree(target, ignore_errors=True)
            if self.home.is_dir():
                shutil.rmtree(self.home)  # a failed first start left only empty directories
        self.home.parent.mkdir(parents=True, exist_ok=True)
        self.home.symlink_to(target, target_is_directory=True)

    def _hand_over(self) -> None:
        """Give the cluster's directory to the server user and check it can reach it."""
        user = pwd.getpwnam(self._user or "")
        home = self.location
        home.parent.chmod(home.parent.stat().st_mode | 0o755)
        for path in [home, *home.rglob("*")]:
            if path.stat().st_uid != user.pw_uid:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        home.chmod(0o700)
        if self._as_server(["test", "-w", str(home)]).returncode != 0:
            raise StackError(
                f"user '{self._user}' cannot write {home}: set CANDLEFLOW_STACK_DIR to a directory under /tmp"
            )

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self._user:
            user = pwd.getpwnam(self._user)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _settings(self, port: int, tls: bool) -> str:
        lines = [
            f"port = {port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.run_dir}'",
            "max_connections = 200",
            "timezone = 'UTC'",
            "fsync = on",
            f"ssl = {'on' if tls else 'off'}",
        ]
        if tls:
            lines.append(f"ssl_cert_file = '{self.tls_dir / 'server.crt'}'")
            lines.append(f"ssl_key_file = '{self.tls_dir / 'server.key'}'")
        if list((self.bin_dir.parent / "lib").glob("timescaledb*.so")):
            lines.append("shared_preload_libraries = 'timescaledb'")
        return "# written by `candleflow stack up` on every start\n" + "\n".join(lines) + "\n"

    def start(self) -> int:
        """pg_ctl start (waits until it accepts connections); returns the postmaster pid."""
        if self._user is None:
            self._user = server_user()
        result = self._as_server(
            [self._bin("pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log_path),
             "-w", "-t", "90", "-s"],
            timeout=120,
        )  # fmt: skip
        pid = self.pid()
        if result.returncode != 0 or pid is None:
            raise StackError(
                f"PostgreSQL did not start ({result.stderr.strip() or 'no message'}); "
                f"see {self.log_path}:\n{procs.tail(self.log_path)}"
            )
        return pid

    def pid(self) -> int | None:
        """The running postmaster's pid, from postmaster.pid (None when it does not run)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if procs.alive(pid) else None

    def stop(self, mode: str = "fast", timeout: float = 30) -> None:
        """pg_ctl stop -m `mode`; SIGKILL the server's process group if it lingers."""
        pid = self.pid()
        if pid is None:
            return
        if self._user is None:
            self._user = server_user()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._as_server(
                [self._bin("pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w",
                 "-t", str(int(timeout)), "-s"],
                timeout=timeout + 10,
            )  # fmt: skip
        if not procs.wait_gone([pid], 2):
            procs.kill_group(pid)

    def wait_ready(self, port: int, timeout: float) -> None:
        """Block until asyncpg can log in on 127.0.0.1:`port`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if aio.run(lambda: _answers(port)):
                return
            time.sleep(0.3)
        raise StackError(
            f"PostgreSQL did not answer on 127.0.0.1:{port} within {timeout:.0f}s; "
            f"see {self.log_path}:\n{procs.tail(self.log_path)}"
        )

    def ensure_database(self, port: int) -> bool:
        """Create the `candleflow` database if missing; True when TimescaleDB is enabled."""
        return aio.run(lambda: _ensure_database(port))


def url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{ROLE}@127.0.0.1:{port}/{database}"


async def _answers(port: int) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(url(port, "postgres"), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def _ensure_database(port: int) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url(port, "postgres"), timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}" OWNER "{ROLE}"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(url(port), timeout=10)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except asyncpg.PostgresError:
        return False
    finally:
        await conn.close()
    return True
