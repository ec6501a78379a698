"""Where runs live on disk, and the one way files are written there."""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path


def runs_root(results_dir: str | Path, ablation: str) -> Path:
    return Path(results_dir) / "runs" / ablation


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file then rename: a reader never sees half a file, even if the writer is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2).encode())


@contextmanager
def exclusive(run_dir: Path):
    """One process per run: a second `ablate run` on the same results would interleave its metrics."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / ".lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"run {run_dir.name} is being trained by another process") from None
        yield


def being_trained(run_dir: Path) -> bool:
    """Whether some process on this machine holds the run's lock right now."""
    try:
        with exclusive(run_dir):
            return False
    except RuntimeError:
        return True
