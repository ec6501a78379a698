"""The one way files are written: a reader never sees half a file."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file then rename: a reader never sees half a file, even if the writer is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk keeps the old file and no half-written copy
        raise


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2).encode())


# errno → what a user reads; any other OSError is a bug and keeps its traceback
STORAGE_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                  errno.EROFS: "read-only filesystem", errno.EACCES: "permission denied"}


class StorageFault(OSError):
    """A write the disk refused, already phrased for the user (a job's, passed on to the CLI as text)."""


def megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def free_bytes(path: str | Path) -> int:
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def storage_fault(error: OSError, where: str | Path | None = None, needed: int | None = None) -> str | None:
    """One line for a write the disk refused: what, where, the free space there (and what a run needs); None when
    `error` is not about storage."""
    if isinstance(error, StorageFault):
        return str(error)
    if error.errno not in STORAGE_ERRORS:
        return None
    path = error.filename or where or "the results folder"
    if where is not None and not Path(str(path)).absolute().is_relative_to(Path(where).absolute()):
        path = where  # a library's temporary file elsewhere, moved in: the results disk is what is full
    line = f"{STORAGE_ERRORS[error.errno]} writing {path}"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        line += f" ({megabytes(free_bytes(path))} free there" + (f"; a run needs about {megabytes(needed)}" if needed else "") + ")"
    return line
