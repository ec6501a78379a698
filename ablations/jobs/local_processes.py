"""Local submitit jobs as processes: the CLI starts a controller (`python -m submitit.local._local`) per job, which
starts the training task. submitit cancels with SIGINT alone, which a CLI started with `&` or nohup passed on as
ignored, and its task ignores SIGTERM (submitit "bypasses" it); so stopping a job here ends with SIGKILL, which a
run survives: it resumes from its last checkpoint."""

from __future__ import annotations

import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import submitit  # the CLI reads the executors (which use this module) before submitit is needed

GRACE_S = 4.0  # for a task to stop cleanly after SIGINT (Lightning's shutdown takes about a second) before SIGKILL


def _children() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        kids = tree.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its parent, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(jobs: list[submitit.Job], grace_s: float = GRACE_S) -> None:
    """Stop local jobs and every process under them: SIGINT (a clean stop where it is not ignored), then SIGKILL."""
    processes = [job._process for job in jobs if getattr(job, "_process", None) is not None]
    pids = [pid for p in processes for pid in (p.pid, *descendants(p.pid))]
    _signal(pids, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        for process in processes:
            process.poll()  # reap the controllers, so they do not linger as zombies that look alive
        time.sleep(0.1)
    _signal([pid for pid in pids if _alive(pid)], signal.SIGKILL)
    for process in processes:
        process.wait()


@contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """Processes started inside inherit `path` as their stderr: a controller's own messages (its traceback when
    Ctrl-C reaches it through the terminal) go to the logs, not between the CLI's lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(2)
    try:
        with path.open("a") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
