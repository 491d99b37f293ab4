"""A child command (torchrun) that ends with the command that started it.

``run_to_the_end`` starts the child in its own session, so a terminal's Ctrl-C reaches it
once, through us, not twice. SIGINT and SIGTERM received meanwhile are forwarded to it
(torchrun passes them to its ranks, waits for them and kills what lingers) and we wait
for it to exit; whatever of its process tree is still alive after that (a rank torchrun
lost track of) is killed. Processes are found in /proc and recognised by pid and start
time, so a pid reused since is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE = 60.0  # seconds the child gets to stop after a forwarded signal; then SIGKILL


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state, ppid, ...), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``: {pid: start time}. Empty where /proc is missing."""
    parents = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    for entry in entries:
        fields = _stat(int(entry)) if entry.isdigit() else None
        if fields is not None:
            parents[int(entry)] = (int(fields[1]), fields[19])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, start) in parents.items():
            if ppid == parent and child not in found:
                found[child] = start
                todo.append(child)
    return found


def alive(pid: int, start: str) -> bool:
    """Is the process with this pid and start time still running (not a zombie)?"""
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def kill_leftovers(tree: dict[int, str]) -> None:
    for pid, start in tree.items():
        if alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def run_to_the_end(cmd: list[str], env: dict) -> tuple[int, str, int | None]:
    """Run ``cmd`` and wait for it: (exit code, its stderr, the signal that stopped us
    or None). On SIGINT/SIGTERM it and its whole tree have ended when this returns."""
    received: list[int] = []
    signalled_at: list[float] = []
    tree: dict[int, str] = {}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)

    def forward(signum, frame) -> None:
        if not received:
            tree.update(descendants(proc.pid))  # the ranks, before they are orphaned
        received.append(signum)
        signalled_at.append(time.monotonic())
        try:
            proc.send_signal(signum)
        except OSError:
            pass

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, forward) for s in SIGNALS}
    try:
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()),
                                  daemon=True)
        reader.start()
        while proc.poll() is None:
            if received and time.monotonic() > signalled_at[0] + GRACE:
                proc.kill()  # it had its chance to stop its ranks
            time.sleep(0.05)
        if received:
            tree.update(descendants(proc.pid))  # none normally: it has exited
            kill_leftovers(tree)
        reader.join(timeout=5)
        return proc.returncode, "".join(chunks), (received[0] if received else None)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:  # an exception of our own: leave nothing running
            tree.update(descendants(proc.pid))
            proc.kill()
            proc.wait()
            kill_leftovers(tree)

