"""Send runs through an executor (`executors.py`), at most K at a time, and show progress. Knows nothing of models,
nor of any one executor."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ablations.data.storage import StorageFault, free_bytes, megabytes
from ablations.declare.metrics import PER_RUN
from ablations.jobs.executors import Executor, Job
from ablations.runs.run_spec import RunSpec
from ablations.training.train import ALREADY_RUNNING, FINISHED_ELSEWHERE


@dataclass
class Progress:
    total: int
    skipped: int = 0
    submitted: int = 0
    done: int = 0
    elsewhere: int = 0  # runs another process was already training: left to it
    failed: list[str] = field(default_factory=list)  # log paths of failed runs
    running: dict[str, str] = field(default_factory=dict)  # run label → latest progress line

    def line(self) -> str:
        parts = [f"{self.done + self.skipped}/{self.total} done", f"{len(self.running)} running", f"{len(self.failed)} failed"]
        if self.elsewhere:
            parts.insert(2, f"{self.elsewhere} left to another process")
        now = "; ".join(f"{label}: {status}" for label, status in self.running.items())
        return " · ".join(parts) + (f" | {now}" if now else "")


def _latest_step_line(path: Path) -> str:
    """The last progress line a running job printed, read from the end of its log."""
    try:
        with path.open("rb") as log:
            log.seek(0, 2)
            log.seek(max(0, log.tell() - 4096))
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line.startswith(("step ", "resumed"))]
    except OSError:
        return "starting"
    return lines[-1].split(" · val")[0] if lines else "starting"


def _reason(error: BaseException) -> str:
    """The exception line of a job's traceback; submitit wraps it between dashed rules and log paths."""
    text = str(error).split("You can check full logs")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("---")]
    return lines[-1] if lines else repr(error)


def pending_runs(specs: list[RunSpec], force: bool) -> tuple[list[RunSpec], int, int]:
    """Runs still to do, how many were skipped as finished, and how many of those were adopted from another
    ablation that had trained the identical run. --force discards stored results and trains again."""
    todo, adopted = [], 0
    for spec in specs:
        if force:
            spec.record.discard()
        elif not spec.record.is_done and (twin := spec.record.twin(metric.name for metric in PER_RUN)):
            spec.record.adopt(twin, spec.describe())
            adopted += 1
        if not spec.record.is_done:
            todo.append(spec)
    return todo, len(specs) - len(todo), adopted


def _record(spec: RunSpec, executor: Executor, job: Job) -> None:
    """Which job carries this run, so `ablate status` and `ablate cancel` can find it later."""
    spec.record.register(spec.describe())
    spec.record.write_job({"executor": executor.name, "job_id": str(job.job_id), "folder": str(job.paths.folder),
                           "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)})


def dispatch(specs: list[RunSpec], executor: Executor, log_dir: Path, force: bool = False,
             say: Callable[[str], None] = print, poll_s: float = 2.0) -> Progress:
    """Run every unfinished spec through the executor and return the tally. Runs on this machine go K at a time;
    Ctrl-C or a stop signal stops them (they resume from their checkpoints) and is raised on. A full or read-only
    disk stops the lot and raises StorageFault. A cluster takes the whole batch at once, watched only if
    `executor.watch`."""
    todo, skipped, adopted = pending_runs(specs, force)
    progress = Progress(total=len(specs), skipped=skipped)
    if skipped:
        say(f"{skipped} run(s) already finished: skipped (--force reruns them)"
            + (f"; {adopted} of them identical to runs another ablation had finished, copied from there" if adopted else ""))
    if damaged := [spec for spec in todo if spec.record.damage()]:
        say(f"{len(damaged)} damaged run(s), trained again: " + "; ".join(f"{spec.label} ({spec.run_id}): "
                                                                          f"{spec.record.damage()}" for spec in damaged))
    busy = executor.busy(todo, say)
    progress.elsewhere = len(busy) if not executor.cluster else 0  # a cluster's are its own, not another process's
    todo = [spec for spec in todo if spec not in busy]
    if not todo:
        return progress
    concurrency = executor.concurrency(len(todo))
    threads = executor.threads(concurrency)
    todo = [replace(spec, concurrency=concurrency, threads=threads) for spec in todo]
    running: list[tuple[RunSpec, Job]] = []
    if executor.cluster:
        running = list(zip(todo, executor.submit(todo, log_dir, say)))
        for spec, job in running:
            _record(spec, executor, job)
        progress.submitted = len(running)
        if not executor.watch:
            return progress
        queue = deque()
    else:
        queue = deque(todo)
        say(f"{len(todo)} run(s) via the {executor.name} executor, {concurrency} at a time"
            + (f", {threads} torch thread(s) each" if threads else "") + f"; logs in {log_dir}")
    last_line = ""
    try:
        while queue or running:
            while queue and len(running) < concurrency:
                spec = queue.popleft()
                (job,) = executor.submit([spec], log_dir, say)
                running.append((spec, job))
                _record(spec, executor, job)
            for spec, job in list(running):
                finished, error = executor.outcome(job)
                if not finished:
                    progress.running[spec.label] = _latest_step_line(job.paths.stdout)
                    continue
                running.remove((spec, job))
                progress.running.pop(spec.label, None)
                if error is None and ALREADY_RUNNING in job.results():  # another process took it first (rank 0's word)
                    progress.elsewhere += 1
                    say(f"{spec.label} ({spec.run_id}) is running in another process on this machine: left to it")
                elif error is None and FINISHED_ELSEWHERE in job.results():
                    progress.elsewhere += 1
                    say(f"{spec.label} ({spec.run_id}) was finished by another process meanwhile: left to it")
                elif error is None:
                    progress.done += 1
                elif "StorageFault: " in (reason := _reason(error)):
                    raise StorageFault(reason.split("StorageFault: ", 1)[1])
                elif (free := free_bytes(spec.run_dir)) < spec.disk_bytes:  # too full even for the job's traceback
                    raise StorageFault(f"no space left on device under {spec.results_dir} ({megabytes(free)} free; a run "
                                       f"needs about {megabytes(spec.disk_bytes)})")
                else:
                    progress.failed.append(str(job.paths.stderr))
                    say(f"FAILED {spec.label} ({spec.run_id}): {reason}; log: {job.paths.stderr}")
            line = progress.line()
            if line != last_line:
                say(line)
                last_line = line
            if running:
                time.sleep(poll_s)
    except BaseException:
        executor.stop([job for _, job in running])  # a cluster's jobs outlive the terminal (`ablate cancel` stops them)
        raise
    return progress
