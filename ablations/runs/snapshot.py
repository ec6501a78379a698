"""Freeze the code a queued job will run: a copy of the packages, put first on the job's PYTHONPATH,
so editing the working tree after submitting changes nothing that is already queued."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import ablations
import models

COMMIT_FILE = Path(ablations.__file__).resolve().parent / "COMMIT"  # only in a snapshot


def git_commit() -> str:
    """The project's commit, with "-dirty" when the working tree differs from it. A snapshot answers with
    the commit it was taken from: asking git there would name whatever the checkout holds when the job runs."""
    if COMMIT_FILE.exists():
        return COMMIT_FILE.read_text().strip()
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"], cwd=COMMIT_FILE.parent,
                             capture_output=True, text=True, timeout=10)
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def snapshot_code(parent: Path) -> Path:
    root = parent / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    for package in (models, ablations):
        source = Path(package.__file__).resolve().parent
        shutil.copytree(source, root / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "ablations" / COMMIT_FILE.name).write_text(git_commit() + "\n")
    return root


def job_setup_lines(root: Path) -> list[str]:
    """The job starts in the snapshot (Python puts the working directory first on sys.path, ahead of
    an editable install) and finds it on PYTHONPATH too."""
    return [f'cd "{root}"', f'export PYTHONPATH="{root}${{PYTHONPATH:+:$PYTHONPATH}}"']
