"""Freeze the code a queued job will run: a copy of the packages, put first on the job's PYTHONPATH,
so editing the working tree after submitting changes nothing that is already queued."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import ablations
import models


def snapshot_code(parent: Path) -> Path:
    root = parent / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    for package in (models, ablations):
        source = Path(package.__file__).resolve().parent
        shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def job_setup_lines(root: Path) -> list[str]:
    """The job starts in the snapshot (Python puts the working directory first on sys.path, ahead of
    an editable install) and finds it on PYTHONPATH too."""
    return [f'cd "{root}"', f'export PYTHONPATH="{root}${{PYTHONPATH:+:$PYTHONPATH}}"']
