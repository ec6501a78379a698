"""The one way files are written: a reader never sees half a file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file then rename: a reader never sees half a file, even if the writer is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(path: Path, payload: dict) -> None:
    atomic_write(path, json.dumps(payload, indent=2).encode())
