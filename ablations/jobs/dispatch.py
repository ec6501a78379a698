"""Send runs to submitit executors, at most K at a time, and show progress. Knows nothing of models."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import submitit

from ablations.data.storage import StorageFault, free_bytes, megabytes
from ablations.declare.metrics import PER_RUN
from ablations.jobs import local_processes
from ablations.jobs.profiles import Profile, local_threads, submitit_parameters
from ablations.runs.run_record import snapshots_dir
from ablations.runs.run_spec import RunSpec
from ablations.runs.snapshot import job_setup_lines, snapshot_code
from ablations.training.train import ALREADY_RUNNING, TrainJob

LOCAL_TIMEOUT_MIN = 7 * 24 * 60  # submitit's local default (2 min) would kill real runs


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


def _label(spec: RunSpec) -> str:
    return f"{spec.variant} seed {spec.seed}"


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


def _outcome(job: submitit.Job) -> tuple[bool, BaseException | None]:
    """(finished, error). A debug job runs in-process on first touch; its done() opens pdb on failure."""
    if isinstance(job, submitit.DebugJob):
        return True, job.exception()
    if not job.done():
        return False, None
    return True, job.exception()


def make_executor(kind: str, log_dir: Path) -> submitit.Executor:
    # cluster= is explicit: with `srun` on PATH, AutoExecutor would otherwise pick SLURM silently.
    executor = submitit.AutoExecutor(folder=log_dir / "%j" if kind == "slurm" else log_dir, cluster=kind)
    if kind == "local":
        executor.update_parameters(timeout_min=LOCAL_TIMEOUT_MIN)
    return executor


@dataclass(frozen=True)
class SlurmPlan:
    profile: Profile
    gpus: int  # per run
    array_parallelism: int
    wait: bool  # watch the array until it ends, instead of returning once it is queued


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


def _record(spec: RunSpec, kind: str, job: submitit.Job) -> None:
    """Which job carries this run, so `ablate status` and `ablate cancel` can find it later."""
    spec.record.register(spec.describe())
    spec.record.write_job({"executor": kind, "job_id": str(job.job_id), "folder": str(job.paths.folder),
                           "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)})


def slurm_executor(plan: SlurmPlan, log_dir: Path, snapshot: Path, name: str) -> submitit.AutoExecutor:
    executor = make_executor("slurm", log_dir)
    params = submitit_parameters(plan.profile, plan.gpus, plan.array_parallelism, name=name)
    params["slurm_setup"] = [*params["slurm_setup"], *job_setup_lines(snapshot)]
    executor.update_parameters(**params)
    return executor


def _submit_array(todo: list[RunSpec], plan: SlurmPlan, log_dir: Path, say) -> list[submitit.Job]:
    """Every run as one task of one SLURM job array, running the code as it is now."""
    snapshot = snapshot_code(snapshots_dir(todo[0].results_dir, todo[0].ablation))
    executor = slurm_executor(plan, log_dir, snapshot, name=f"ablate-{todo[0].ablation}")
    with executor.batch():
        jobs = [executor.submit(TrainJob(spec)) for spec in todo]
    for spec, job in zip(todo, jobs):
        _record(spec, "slurm", job)
    say(f"submitted {len(jobs)} run(s) as SLURM job array {jobs[0].job_id.split('_')[0]} "
        f"(at most {plan.array_parallelism} at once); code frozen in {snapshot}; logs in {log_dir}")
    return jobs


def _busy(todo: list[RunSpec], kind: str, say: Callable[[str], None]) -> list[RunSpec]:
    """Runs that are being trained already: on the cluster (queued or running), or here by another process (a second
    `ablate run` of the same grid). They are left to it, never started twice."""
    if kind == "slurm":
        busy = [spec for spec in todo if spec.record.state() in ("queued", "running")]
        if busy:
            say(f"{len(busy)} run(s) already queued or running on the cluster: not submitted again")
        return busy
    busy = [spec for spec in todo if spec.run_dir.exists() and spec.record.being_trained()]
    if busy:
        say(f"{len(busy)} run(s) already running in another process on this machine: left to it "
            f"({', '.join(_label(spec) for spec in busy)}); `ablate status {busy[0].ablation}` follows them")
    return busy


def _start_local(executor: submitit.Executor, spec: RunSpec, log_dir: Path) -> submitit.Job:
    # The controller's stderr goes to the logs; the task stops with this CLI even if the CLI is killed outright.
    with local_processes.stderr_into(log_dir / "controllers.log"):
        return executor.submit(TrainJob(spec, stop_with=os.getpid()))


def dispatch(specs: list[RunSpec], kind: str, parallel: int, log_dir: Path, force: bool = False,
             say: Callable[[str], None] = print, poll_s: float = 2.0, slurm: SlurmPlan | None = None) -> Progress:
    """Run every unfinished spec through the executor and return the tally. Local runs go K at a time; Ctrl-C or
    a stop signal kills them (they resume from their checkpoints) and is raised on. A full or read-only disk stops
    the lot and raises StorageFault. SLURM runs go out as one array, watched only with `slurm.wait`."""
    todo, skipped, adopted = pending_runs(specs, force)
    progress = Progress(total=len(specs), skipped=skipped)
    if skipped:
        say(f"{skipped} run(s) already finished: skipped (--force reruns them)"
            + (f"; {adopted} of them identical to runs another ablation had finished, copied from there" if adopted else ""))
    if damaged := [spec for spec in todo if spec.record.damage()]:
        say(f"{len(damaged)} damaged run(s), trained again: " + "; ".join(f"{_label(spec)} ({spec.run_id}): "
                                                                          f"{spec.record.damage()}" for spec in damaged))
    busy = _busy(todo, kind, say)
    progress.elsewhere = len(busy) if kind != "slurm" else 0
    todo = [spec for spec in todo if spec not in busy]
    if not todo:
        return progress
    concurrency = min(slurm.array_parallelism if slurm else parallel, len(todo)) if kind != "debug" else 1
    threads = local_threads(concurrency) if kind == "local" else None  # SLURM jobs take their allocation's CPUs
    todo = [replace(spec, concurrency=concurrency, threads=threads) for spec in todo]
    running: list[tuple[RunSpec, submitit.Job]] = []
    if kind == "slurm":
        running = list(zip(todo, _submit_array(todo, slurm, log_dir, say)))
        progress.submitted = len(running)
        if not slurm.wait:
            return progress
        queue, executor = deque(), None
    else:
        queue, executor = deque(todo), make_executor(kind, log_dir)
        say(f"{len(todo)} run(s) via the {kind} executor, {concurrency} at a time"
            + (f", {threads} torch thread(s) each" if threads else "") + f"; logs in {log_dir}")
    last_line = ""
    try:
        while queue or running:
            while queue and len(running) < concurrency:
                spec = queue.popleft()
                job = _start_local(executor, spec, log_dir) if kind == "local" else executor.submit(TrainJob(spec))
                running.append((spec, job))
                _record(spec, kind, job)
            for spec, job in list(running):
                finished, error = _outcome(job)
                if not finished:
                    progress.running[_label(spec)] = _latest_step_line(job.paths.stdout)
                    continue
                running.remove((spec, job))
                progress.running.pop(_label(spec), None)
                if error is None and ALREADY_RUNNING in job.results():  # another process took it first (rank 0's word)
                    progress.elsewhere += 1
                    say(f"{_label(spec)} ({spec.run_id}) is running in another process on this machine: left to it")
                elif error is None:
                    progress.done += 1
                elif "StorageFault: " in (reason := _reason(error)):
                    raise StorageFault(reason.split("StorageFault: ", 1)[1])
                elif (free := free_bytes(spec.run_dir)) < spec.disk_bytes:  # too full even for the job's traceback
                    raise StorageFault(f"no space left on device under {spec.results_dir} ({megabytes(free)} free; a run "
                                       f"needs about {megabytes(spec.disk_bytes)})")
                else:
                    progress.failed.append(str(job.paths.stderr))
                    say(f"FAILED {_label(spec)} ({spec.run_id}): {reason}; log: {job.paths.stderr}")
            line = progress.line()
            if line != last_line:
                say(line)
                last_line = line
            if running:
                time.sleep(poll_s)
    except BaseException:
        if kind == "local":  # cluster jobs outlive the terminal (`ablate cancel` stops them); debug ones ran here
            local_processes.stop([job for _, job in running])
        raise
    return progress
