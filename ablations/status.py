"""`ablate status` and `ablate cancel`: each run's state from its results and, for queued work, sacct."""

from __future__ import annotations

import json
from pathlib import Path

import submitit

from ablations.storage import being_trained, runs_root

# sacct states → ours (submitit reads them through sacct, so accounting must be on)
_SLURM_STATES = {
    "PENDING": "queued", "REQUEUED": "queued", "REQUEUE_HOLD": "queued", "REQUEUE_FED": "queued",
    "CONFIGURING": "queued", "SUSPENDED": "queued", "RESIZING": "queued",
    "RUNNING": "running", "COMPLETING": "running", "STAGE_OUT": "running", "SIGNALING": "running",
    "CANCELLED": "cancelled",
}


def _job(run_dir: Path) -> dict | None:
    path = run_dir / "job.json"
    return json.loads(path.read_text()) if path.exists() else None


def _slurm_job(record: dict) -> submitit.SlurmJob:
    return submitit.SlurmJob(folder=record["folder"], job_id=record["job_id"])


def job_state(run_dir: Path) -> str:
    """finished, diverged, queued, running, failed, cancelled, interrupted (resumes on the next
    `ablate run`) or not started."""
    summary = run_dir / "summary.json"
    if summary.exists():
        return "diverged" if json.loads(summary.read_text())["diverged"] else "finished"
    record = _job(run_dir)
    if record is None:
        return "not started"
    if record["executor"] != "slurm":  # a local job: training now (its lock is held), or stopped with its parent
        return "running" if being_trained(run_dir) else "interrupted"
    state = _slurm_job(record).state.split()[0].rstrip("+")
    return _SLURM_STATES.get(state, "unknown" if state == "UNKNOWN" else "failed")


def run_states(results_dir: str | Path, ablation: str) -> list[dict]:
    rows = []
    for config in sorted(runs_root(results_dir, ablation).glob("*/config.json")):
        described, run_dir = json.loads(config.read_text()), config.parent
        record = _job(run_dir) or {}
        state = job_state(run_dir)
        detail = ""
        if state == "failed":
            detail = f"log: {record.get('stderr')}"
        elif state == "diverged":
            detail = f"at step {json.loads((run_dir / 'summary.json').read_text())['diverged_at_step']}"
        rows.append(dict(run_id=run_dir.name, variant=described["variant"], seed=described["seed"],
                         preset=described["preset"], state=state, job=record.get("job_id", ""), detail=detail))
    return rows


def cancel(results_dir: str | Path, ablation: str) -> list[str]:
    """scancel every queued or running job of the ablation; return their ids."""
    cancelled = []
    for row in run_states(results_dir, ablation):
        if row["state"] in ("queued", "running"):
            _slurm_job(_job(runs_root(results_dir, ablation) / row["run_id"])).cancel(check=False)
            cancelled.append(row["job"])
    return cancelled
