"""`ablate status` and `ablate cancel`: one row per run, its state decided by its run record and its executor."""

from __future__ import annotations

from pathlib import Path

from ablations.jobs.executors import carrying, run_state
from ablations.runs.run_record import RunRecord


def run_states(results_dir: str | Path, ablation: str) -> list[dict]:
    rows = []
    for record in RunRecord.every(results_dir, ablation):
        described, job = record.read_config_or_none() or {}, record.read_job() or {}  # a damaged config: "?"
        state = run_state(record)
        rows.append(dict(run_id=record.run_id, variant=described.get("variant", "?"), seed=described.get("seed", "?"),
                         preset=described.get("preset", "?"), corpus=described.get("corpus_label", ""), state=state,
                         job=job.get("job_id", ""), detail=record.detail(state)))
    return rows


def cancel(results_dir: str | Path, ablation: str) -> list[str]:
    """Cancel every queued or running job of the ablation through its executor; return the ids of those cancelled
    (a job on this machine is not one: it stops with the `ablate run` that started it)."""
    jobs = [RunRecord.at(results_dir, ablation, row["run_id"]).read_job()
            for row in run_states(results_dir, ablation) if row["state"] in ("queued", "running")]
    return [job_id for job in jobs if (job_id := carrying(job).cancel(job)) is not None]
