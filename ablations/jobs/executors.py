"""Executors as values: how runs reach a machine, and how their jobs are followed, stopped and cancelled.

`EXECUTORS` maps each `--executor` name to its class. The CLI's choices and flag checks, `dispatch`, `ablate status`
and `ablate cancel` all read it, so a new executor is one class here and one entry in EXECUTORS.

An executor is built from the command line (`from_args`) for one `ablate run`. Its jobs are submitit-style values
(`job_id`, `paths`, `done()`, `exception()`, `results()`). What job.json stores of a job is read back later without
that command line, so `state` and `cancel` are class methods over the stored record.

Nothing here imports submitit or Lightning at module level: the CLI reads this registry before any job exists.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from ablations.declare.flag_kinds import Flag, Refused, Switch, Whole, Word
from ablations.jobs import local_processes
from ablations.jobs.profiles import (
    Profile,
    ProfileError,
    check_partition,
    load_profile,
    local_threads,
    machine_cores,
    submitit_parameters,
    with_overrides,
)
from ablations.runs.run_record import RunRecord, snapshots_dir
from ablations.runs.run_spec import RunSpec

Job = Any  # a submitit.Job, or anything with its job_id, paths, done(), exception() and results()
Say = Callable[[str], None]


class Executor:
    """The interface, with the behaviour of an executor that trains on this machine one run at a time."""
    name: ClassVar[str]  # the --executor value, stored in job.json
    help: ClassVar[str]  # its line in `ablate run --help`
    label: ClassVar[str] = ""  # how messages name its jobs, if not by `name`
    cluster: ClassVar[bool] = False  # a queue takes the whole batch at once; its jobs outlive `ablate run`
    flags: ClassVar[tuple[Flag, ...]] = ()  # `ablate run` flags of its own, checked after --executor

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Executor:
        return cls()

    @classmethod
    def unusable(cls) -> str | None:
        """Why this machine cannot use the executor, or None; refuses --executor before anything is read."""
        return None

    @classmethod
    def parallel_limit(cls) -> tuple[int | None, str]:
        """The most --parallel may be, and why (None: no limit)."""
        return None, ""

    @property
    def watch(self) -> bool:
        """Whether `ablate run` follows the jobs until they end."""
        return True

    def concurrency(self, runs: int) -> int:
        """How many of `runs` train at once."""
        return 1

    def threads(self, concurrency: int) -> int | None:
        """Torch threads per run (None: torch's default, or the allocation's)."""
        return None

    def busy(self, todo: list[RunSpec], say: Say) -> list[RunSpec]:
        """Runs that another process on this machine (a second `ablate run` of the grid) trains now: left to it."""
        busy = [spec for spec in todo if spec.run_dir.exists() and spec.record.being_trained()]
        if busy:
            say(f"{len(busy)} run(s) already running in another process on this machine: left to it "
                f"({', '.join(spec.label for spec in busy)}); `ablate status {busy[0].ablation}` follows them")
        return busy

    def submit(self, specs: list[RunSpec], log_dir: Path, say: Say) -> list[Job]:
        """One job per spec, in order."""
        raise NotImplementedError

    def outcome(self, job: Job) -> tuple[bool, BaseException | None]:
        """(finished, error)."""
        if not job.done():
            return False, None
        return True, job.exception()

    def stop(self, jobs: list[Job]) -> None:
        """Stop the jobs this `ablate run` started, when it is stopped itself."""

    @classmethod
    def state(cls, job: dict, record: RunRecord) -> str:
        """The state (of run_record.STATES) of an unfinished run whose job.json is `job`: a job on this machine
        trains while it holds the run's lock, and stopped with the `ablate run` that started it otherwise."""
        return "running" if record.being_trained() else "interrupted"

    @classmethod
    def cancel(cls, job: dict) -> str | None:
        """Cancel a queued or running job; its id, or None where there is nothing to cancel from here (a job on this
        machine stops with the `ablate run` that started it)."""
        return None


def _submitit(log_dir: Path, cluster: str):
    import submitit

    # cluster= is explicit: with `srun` on PATH, AutoExecutor would otherwise pick SLURM silently.
    return submitit.AutoExecutor(folder=log_dir, cluster=cluster)


def _train_job(spec: RunSpec, **options):
    from ablations.training.train import TrainJob  # Lightning (seconds): only once runs are submitted

    return TrainJob(spec, **options)


@dataclass(frozen=True)
class Local(Executor):
    """Real subprocesses on this machine, K at a time (--parallel), each with an equal share of the cores."""
    name = "local"
    help = "real subprocesses"
    TIMEOUT_MIN: ClassVar[int] = 7 * 24 * 60  # submitit's local default (2 min) would kill real runs
    parallel: int = 1

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Local:
        return cls(parallel=args.parallel)

    @classmethod
    def parallel_limit(cls) -> tuple[int | None, str]:
        return machine_cores(), ("this machine's cores; more runs than cores time-share them, so the grid finishes no "
                                 "sooner and every step-time figure is distorted")

    def concurrency(self, runs: int) -> int:
        return min(self.parallel, runs)

    def threads(self, concurrency: int) -> int | None:
        return local_threads(concurrency)

    def submit(self, specs: list[RunSpec], log_dir: Path, say: Say) -> list[Job]:
        executor = _submitit(log_dir, "local")
        executor.update_parameters(timeout_min=self.TIMEOUT_MIN)
        # The controller's stderr goes to the logs; the task stops with this CLI even if the CLI is killed outright.
        with local_processes.stderr_into(log_dir / "controllers.log"):
            return [executor.submit(_train_job(spec, stop_with=os.getpid())) for spec in specs]

    def stop(self, jobs: list[Job]) -> None:
        local_processes.stop(jobs)


class Debug(Executor):
    """In this process, one run at a time (submitit's DebugExecutor): tests, and a failure's traceback here."""
    name = "debug"
    help = "in this process"

    def submit(self, specs: list[RunSpec], log_dir: Path, say: Say) -> list[Job]:
        executor = _submitit(log_dir, "debug")
        return [executor.submit(_train_job(spec)) for spec in specs]

    def outcome(self, job: Job) -> tuple[bool, BaseException | None]:
        return True, job.exception()  # it runs on first touch; its done() would open pdb on a failure


# sacct states → ours (submitit reads them through sacct, so accounting must be on)
_SLURM_STATES = {
    "PENDING": "queued", "REQUEUED": "queued", "REQUEUE_HOLD": "queued", "REQUEUE_FED": "queued",
    "CONFIGURING": "queued", "SUSPENDED": "queued", "RESIZING": "queued",
    "RUNNING": "running", "COMPLETING": "running", "STAGE_OUT": "running", "SIGNALING": "running",
    "CANCELLED": "cancelled", "UNKNOWN": "unknown",
}


def _squeue_state(job: dict) -> str | None:
    """The controller's own word on a queued or running task, from squeue. sacct (what submitit reads) reports
    a job array's pending remainder as one line that can shadow a task that already runs; for a task that has
    ended, sacct is right and squeue may still list it while it completes."""
    try:
        out = subprocess.run(["squeue", "-h", "-j", job["job_id"], "-o", "%T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = out.stdout.split() if out.returncode == 0 else []
    return states[0] if len(states) == 1 else None  # gone from the queue (finished): sacct knows the rest


def _slurm_job(job: dict):
    import submitit

    return submitit.SlurmJob(folder=job["folder"], job_id=job["job_id"])


class ClusterProfile:
    """A profile in slurm/ or a .toml path, read and checked."""
    def parse(self, text: str, args: argparse.Namespace) -> Profile:
        try:
            return load_profile(text)
        except ProfileError as error:
            raise Refused(str(error)) from None


def _partition_exists(partition: str, args: argparse.Namespace) -> str | None:
    if args.executor == Slurm.name:
        try:
            check_partition(partition)
        except ProfileError as error:
            return str(error)
    return None


def _profile_partition_exists(profile: Profile, args: argparse.Namespace) -> str | None:
    if args.partition is None and (why := _partition_exists(profile.partition, args)):
        return f"its {why} (or pass --partition)"
    return None


SLURM_FLAGS = "SLURM (with --executor slurm)"


@dataclass(frozen=True)
class Slurm(Executor):
    """One SLURM job array per ablation, running a frozen copy of the code; one task per GPU of a run."""
    name = "slurm"
    help = "one job array"
    label = "SLURM"
    cluster = True
    flags = (
        Flag("--profile", ClusterProfile(), default="local", check=_profile_partition_exists, group=SLURM_FLAGS,
             help="cluster profile: a name in slurm/ or a .toml path (default: local)"),
        Flag("--partition", Word(), check=_partition_exists, group=SLURM_FLAGS, help="override the profile's partition"),
        Flag("--gpus-per-run", Whole(0), metavar="N", group=SLURM_FLAGS,
             help="GPUs per run (default: the profile's, for GPU presets)"),
        Flag("--time", Whole(1), metavar="MIN", group=SLURM_FLAGS, help="time limit per run in minutes"),
        Flag("--account", Word(), group=SLURM_FLAGS, help="--account for sbatch"),
        Flag("--qos", Word(), group=SLURM_FLAGS, help="--qos for sbatch"),
        Flag("--array-parallelism", Whole(1), default="4", metavar="K", group=SLURM_FLAGS,
             help="array tasks running at once (4)"),
        Flag("--wait", Switch(), group=SLURM_FLAGS, help="watch the array until it ends instead of returning"),
    )
    profile: Profile
    gpus: int  # per run
    array_parallelism: int
    wait: bool  # watch the array until it ends, instead of returning once it is queued

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Slurm:
        from ablations.declare.presets import get_preset

        profile = with_overrides(args.profile, partition=args.partition, time_min=args.time, account=args.account,
                                 qos=args.qos)
        gpus = args.gpus_per_run if args.gpus_per_run is not None else profile.gpus_per_run * get_preset(args.preset).needs_gpu
        return cls(profile=profile, gpus=gpus, array_parallelism=args.array_parallelism, wait=args.wait)

    @classmethod
    def unusable(cls) -> str | None:
        return "no SLURM on this machine (sbatch not found); use --executor local" if shutil.which("sbatch") is None else None

    @property
    def watch(self) -> bool:
        return self.wait

    def concurrency(self, runs: int) -> int:
        return min(self.array_parallelism, runs)

    def busy(self, todo: list[RunSpec], say: Say) -> list[RunSpec]:
        busy = [spec for spec in todo if run_state(spec.record) in ("queued", "running")]
        if busy:
            say(f"{len(busy)} run(s) already queued or running on the cluster: not submitted again")
        return busy

    def submitit_executor(self, log_dir: Path, snapshot: Path, name: str):
        """A job per run, its sbatch script putting the frozen code first on the job's path."""
        from ablations.runs.snapshot import job_setup_lines

        executor = _submitit(log_dir / "%j", "slurm")
        params = submitit_parameters(self.profile, self.gpus, self.array_parallelism, name=name)
        params["slurm_setup"] = [*params["slurm_setup"], *job_setup_lines(snapshot)]
        executor.update_parameters(**params)
        return executor

    def submit(self, specs: list[RunSpec], log_dir: Path, say: Say) -> list[Job]:
        """Every run as one task of one job array, running the code as it is now."""
        from ablations.runs.snapshot import snapshot_code

        snapshot = snapshot_code(snapshots_dir(specs[0].results_dir, specs[0].ablation))
        executor = self.submitit_executor(log_dir, snapshot, name=f"ablate-{specs[0].ablation}")
        with executor.batch():
            jobs = [executor.submit(_train_job(spec)) for spec in specs]
        say(f"submitted {len(jobs)} run(s) as SLURM job array {jobs[0].job_id.split('_')[0]} "
            f"(at most {self.array_parallelism} at once); code frozen in {snapshot}; logs in {log_dir}")
        return jobs

    @classmethod
    def state(cls, job: dict, record: RunRecord) -> str:
        sacct = _slurm_job(job).state.split()[0].rstrip("+")
        if _SLURM_STATES.get(sacct) in ("queued", "unknown"):  # an array's pending line may shadow a task that runs
            sacct = _squeue_state(job) or sacct
        return _SLURM_STATES.get(sacct, "failed")

    @classmethod
    def cancel(cls, job: dict) -> str | None:
        _slurm_job(job).cancel(check=False)
        return job["job_id"]


EXECUTORS: dict[str, type[Executor]] = {executor.name: executor for executor in (Local, Debug, Slurm)}
DEFAULT = Local.name  # what `ablate run` uses unless told


def carrying(job: dict) -> type[Executor]:
    """The executor a stored job (job.json) went through; one no longer registered reads as a job on this machine."""
    return EXECUTORS.get(job["executor"], Executor)


def run_state(record: RunRecord) -> str:
    """One of run_record.STATES: what the run's folder says, else what the executor carrying its job says.
    `interrupted` and `damaged` train on the next `ablate run`."""
    if (state := record.folder_state()) is not None:
        return state
    job = record.read_job()
    return carrying(job).state(job, record)
