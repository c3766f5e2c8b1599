"""Process helpers: liveness that ignores zombies, group-wide stop with escalation.

Services run in their own session (process group = pid), so stopping a group also
stops whatever the service forked. Processes started by an earlier `stack up` are not
our children, so liveness and command lines come from psutil rather than from `Popen`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psutil

#: Children this process spawned, so they can be reaped (and never warned about).
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: Sequence[str], log: Path, cwd: Path) -> int:
    """Start `argv` in its own session with output appended to `log`; returns its pid."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            start_new_session=True,
        )
    _children[process.pid] = process
    return process.pid


def reap(pid: int) -> None:
    """Collect `pid` if it is our exited child, so it does not linger as a zombie."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is not None:
            del _children[pid]
        return
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid: int | None) -> bool:
    """True when `pid` runs (a zombie counts as gone)."""
    if not pid or pid <= 0:
        return False
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    try:
        process = psutil.Process(pid)
        if process.status() != psutil.STATUS_ZOMBIE:
            return True
        # A zombie leader may still have live threads (a JVM running its shutdown hooks
        # after `main` returned): the process is gone only when no other thread is left.
        threads = process.num_threads()
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        threads = 0
    if threads > 1:
        return True
    reap(pid)  # it died since the reap above: collect it now
    return False


def cmdline(pid: int) -> str:
    """The command line of `pid` joined by spaces ("" when unknown)."""
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()
    except psutil.Error:
        return ""


def pids_with(marker: str) -> list[int]:
    """Pids whose command line contains `marker` (a path unique to one stack)."""
    me = os.getpid()
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if process.pid != me and marker in line and alive(process.pid):
            found.append(process.pid)
    return sorted(found)


def group_members(pgid: int) -> Iterator[int]:
    """Live pids in process group `pgid`."""
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == pgid and alive(pid):
                yield pid


def wait_gone(pids: list[int], timeout: float) -> bool:
    """Wait until none of `pids` runs; True if they all went within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if not any(alive(pid) for pid in pids):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `pid`, or to `pid` alone if it leads none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_group(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the group led by `pid`; SIGKILL it if anything still runs after `timeout`."""
    members = [pid, *group_members(pid)]
    signal_group(pid, signal.SIGTERM)
    if wait_gone(members, timeout):
        return
    kill_group(pid, members)


def kill_group(pid: int, members: list[int] | None = None) -> None:
    """SIGKILL the group led by `pid` and wait (bounded) until it is gone."""
    members = members or [pid, *group_members(pid)]
    signal_group(pid, signal.SIGKILL)
    for member in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)
    wait_gone(members, 10.0)


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])
