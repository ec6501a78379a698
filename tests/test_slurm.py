"""The SLURM path against a real controller (slurm/start-slurm.sh; CI starts it). Without `sbatch`
these tests skip with a reason, except where ABLATE_REQUIRE_SLURM=1 (CI), where they fail."""

import getpass
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import submitit
import torch
from conftest import REPO, ablate, make_spec

from ablations.jobs.dispatch import dispatch
from ablations.jobs.executors import Slurm
from ablations.jobs.profiles import load_profile
from ablations.runs.run_record import RunRecord
from ablations.runs.snapshot import git_commit
from ablations.training.train import train

GOLDEN = Path(__file__).parent / "golden" / "gpu_profile.sbatch"
HAVE_SLURM = shutil.which("sbatch") is not None
if not HAVE_SLURM and os.environ.get("ABLATE_REQUIRE_SLURM") == "1":
    raise RuntimeError("ABLATE_REQUIRE_SLURM=1 but sbatch is not on PATH: start the cluster with slurm/start-slurm.sh")
needs_slurm = pytest.mark.skipif(not HAVE_SLURM, reason="no SLURM here (sbatch not on PATH); slurm/start-slurm.sh starts one")


@pytest.fixture(autouse=True)
def no_jobs_left_behind(tmp_path):
    """Whatever a test leaves queued or running, even when it fails, is cancelled before the next one starts; only
    its own jobs (their batch scripts lie under its tmp_path), so a cluster shared with other work is left alone."""
    yield
    if HAVE_SLURM:
        def mine() -> list[str]:
            queue = subprocess.run(["squeue", "-h", "--user", getpass.getuser(), "-o", "%A|%o"], capture_output=True,
                                   text=True, timeout=60).stdout.splitlines()
            return sorted({job for job, command in (line.split("|", 1) for line in queue) if str(tmp_path) in command})

        if jobs := mine():
            subprocess.run(["scancel", *jobs], capture_output=True, timeout=60)
        wait_for(lambda: not mine(), 120, "this test's jobs to leave the queue")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def status_rows(results: Path) -> list[str]:
    out = ablate("status", "rmsnorm_vs_layernorm", "--results-dir", str(results))
    assert out.returncode == 0, out.stderr
    return [line.split() for line in out.stdout.splitlines()[1:]]


def test_generated_sbatch_script_for_the_gpu_profile_is_pinned(tmp_path, monkeypatch):
    # A 2-GPU run: one node, one task per GPU (Lightning's DDP reads them), the profile's setup lines,
    # then the frozen snapshot first on the job's path. Only the script is rendered, so no cluster is needed; submitit
    # just wants an `srun` on PATH before it builds a SLURM executor.
    (tmp_path / "srun").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{os.environ['PATH']}{os.pathsep}{tmp_path}")
    slurm = Slurm(profile=load_profile("gpu-example"), gpus=2, array_parallelism=4, wait=False)
    logs = Path("/cluster/results/runs/rmsnorm_vs_layernorm/_logs")
    executor = slurm.submitit_executor(logs, logs.parent / "_snapshots" / "20260101T000000Z", "ablate-rmsnorm_vs_layernorm")
    text = executor._executor._make_submission_file_text(f"python -u -m submitit.core._submit {logs}/%j", "uid")
    assert text == GOLDEN.read_text()


def test_without_slurm_the_error_suggests_the_local_executor(tmp_path):
    bare = {**os.environ, "PATH": str(Path(shutil.which("ablate")).parent)}  # no sbatch on this PATH
    args = ["run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--executor", "slurm", "--profile", "nosuch",
            "--results-dir", str(tmp_path)]
    out = ablate(*args, env=bare)
    assert out.returncode == 2 and out.stderr == ("ablate run: --executor slurm: no SLURM on this machine (sbatch not "
                                                  "found); use --executor local\n")
    assert out.stdout == ""  # refused before the corpus is read (its line would come first)
    assert not (tmp_path / "runs").exists()


def test_unknown_profile_lists_the_profiles(tmp_path):
    out = ablate("run", "rmsnorm_vs_layernorm", "--executor", "slurm", "--profile", "nope", "--results-dir", str(tmp_path))
    assert out.returncode == 2
    assert ("unknown profile 'nope'; valid profiles: gpu-example, local" in out.stderr) or not HAVE_SLURM


@needs_slurm
def test_unknown_partition_is_refused_before_submitting(tmp_path):
    out = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--executor", "slurm", "--partition", "gpu-h100",
                 "--results-dir", str(tmp_path))
    assert out.returncode == 2 and "unknown partition 'gpu-h100'; this cluster has: debug" in out.stderr
    assert not list((tmp_path / "runs").rglob("job.json"))


@needs_slurm
def test_ablation_goes_out_as_one_array_runs_frozen_code_and_reports(tmp_path):
    run = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "2", "--executor", "slurm",
                 "--array-parallelism", "2", "--wait", "--results-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    root = tmp_path / "runs" / "rmsnorm_vs_layernorm"
    jobs = [json.loads(p.read_text())["job_id"] for p in root.glob("*/job.json")]
    assert len(jobs) == 4 and len({job.split("_")[0] for job in jobs}) == 1  # one array, four tasks
    summaries = [json.loads(p.read_text()) for p in root.glob("*/summary.json")]
    snapshot = Path(summaries[0]["code_dir"])
    assert snapshot.parent == root / "_snapshots" and {s["code_dir"] for s in summaries} == {str(snapshot)}
    assert (snapshot / "ablations" / "training" / "train.py").read_text() == (REPO / "ablations" / "training" / "train.py").read_text()
    assert {s["git_commit"] for s in summaries} == {git_commit()}  # the commit submitted, not the one checked out later
    assert {s["torch_threads"] for s in summaries} == {1}  # the local profile's cpus_per_run, not the node's cores
    assert [row[5] for row in status_rows(tmp_path)] == ["finished"] * 4
    report = ablate("report", "rmsnorm_vs_layernorm", "--results-dir", str(tmp_path))
    assert report.returncode == 0 and "| rmsnorm | 2 | 0 |" in report.stdout
    again = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "2", "--executor", "slurm",
                   "--results-dir", str(tmp_path))
    assert "4 run(s) already finished: skipped" in again.stdout and "submitted" not in again.stdout


@needs_slurm
def test_preempted_run_requeues_and_resumes_with_the_same_history(corpus, tmp_path):
    model = dict(d_model=128, n_layers=4, n_heads=4, context=64)
    spec = make_spec(corpus, tmp_path / "cluster", steps=160, eval_every=20, **model)
    slurm = Slurm(profile=load_profile("local"), gpus=0, array_parallelism=1, wait=False)
    dispatch([spec], slurm, spec.run_dir.parent / "_logs", say=print)
    record = json.loads((spec.run_dir / "job.json").read_text())
    job = submitit.SlurmJob(folder=record["folder"], job_id=record["job_id"])
    checkpoint = spec.run_dir / "checkpoints" / "last.ckpt"
    wait_for(lambda: job.state == "RUNNING", 600, "the job to start")  # on a busy cluster it may wait for a slot
    wait_for(lambda: checkpoint.exists() and len(spec.record.read_rows()) > 50, 180, "step 50")
    job._interrupt()  # what SLURM does on preemption: USR2, then submitit checkpoints and requeues
    done = spec.run_dir / "summary.json"
    summary = wait_for(lambda: done.exists() and json.loads(done.read_text()), 300, "the requeued run to finish")
    assert summary["resumed_from_step"] >= 20 and "SIGUSR2" in Path(record["stderr"]).read_text()
    reference = make_spec(corpus, tmp_path / "uninterrupted", steps=160, eval_every=20, **model)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the job's share (the local profile's one CPU): summation order follows the threads
    try:
        train(reference)
    finally:
        torch.set_num_threads(threads)
    mine, theirs = spec.record.read_rows(), reference.record.read_rows()
    assert [(r["split"], r["step"]) for r in mine] == [(r["split"], r["step"]) for r in theirs]  # none lost, none twice
    for a, b in zip(mine, theirs):  # same data order: the same losses, step for step
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-3), (a["split"], a["step"])


@needs_slurm
def test_cancel_stops_queued_and_running_jobs_and_status_reports_it(tmp_path):
    run = ablate("run", "rmsnorm_vs_layernorm", "--preset", "tiny", "--seeds", "1", "--executor", "slurm",
                 "--array-parallelism", "1", "--results-dir", str(tmp_path))
    assert run.returncode == 0 and "ablate status rmsnorm_vs_layernorm" in run.stdout, run.stdout + run.stderr
    wait_for(lambda: "running" in [row[5] for row in status_rows(tmp_path)], 120, "a running task")
    assert sorted(row[5] for row in status_rows(tmp_path)) == ["queued", "running"]  # parallelism 1: one waits
    out = ablate("cancel", "rmsnorm_vs_layernorm", "--results-dir", str(tmp_path))
    assert out.returncode == 0 and "cancelled 2 job(s)" in out.stdout, out.stdout + out.stderr
    wait_for(lambda: [row[5] for row in status_rows(tmp_path)] == ["cancelled", "cancelled"], 60, "both cancelled")


@needs_slurm
def test_two_process_ddp_run_matches_the_single_process_run(tmp_path):
    # Two tasks of one run on the local cluster, DDP over gloo on CPUs: each rank takes half of every
    # global batch, so the averaged gradients, and hence the losses, equal a one-process run's.
    profile = tmp_path / "two-tasks.toml"
    profile.write_text('partition = "debug"\ncpus_per_run = 1\nmem_gb = 4\ntime_min = 60\ncpu_tasks_per_run = 2\n')
    common = ["rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "1", "--variants", "rmsnorm"]
    ddp = ablate("run", *common, "--executor", "slurm", "--profile", str(profile), "--wait",
                 "--results-dir", str(tmp_path / "ddp"))
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    single = ablate("run", *common, "--executor", "local", "--results-dir", str(tmp_path / "single"))
    assert single.returncode == 0, single.stdout + single.stderr
    (log,) = (tmp_path / "ddp" / "runs" / "rmsnorm_vs_layernorm" / "_logs").glob("*/*_1_log.err")
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log.read_text()  # the second process really trained
    mine, theirs = (RunRecord(next((tmp_path / d).rglob("config.json")).parent).read_rows() for d in ("ddp", "single"))
    assert [(r["split"], r["step"]) for r in mine] == [(r["split"], r["step"]) for r in theirs]
    for a, b in zip(mine, theirs):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4), (a["split"], a["step"])


@needs_slurm
def test_a_failed_job_shows_in_status_with_its_log_instead_of_hanging(corpus, tmp_path):
    from dataclasses import replace

    from ablations.data.corpus import Corpus
    from ablations.jobs.status import run_states

    good = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    missing = Corpus(name="gone", sha256="0" * 64, tokens_path=str(tmp_path / "gone.u8"), n_tokens=1000)
    bad = replace(good, corpus=missing, variant="bad")
    slurm = Slurm(profile=load_profile("local"), gpus=0, array_parallelism=2, wait=True)
    lines = []
    progress = dispatch([bad, good], slurm, tmp_path / "runs" / "test" / "_logs", say=lines.append, poll_s=1)
    assert progress.done == 1 and len(progress.failed) == 1 and "gone.u8" in " ".join(lines)
    for _ in range(30):  # the controller may list a task that just failed as running while it tears down
        states = {row["variant"]: row for row in run_states(tmp_path, "test")}
        if states["bad"]["state"] != "running":
            break
        time.sleep(1)
    assert states["v"]["state"] == "finished" and states["bad"]["state"] == "failed"
    log = states["bad"]["detail"].removeprefix("log: ")
    assert Path(log).exists() and "No such file" in Path(log).read_text()
