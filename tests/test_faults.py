"""Faults a real `ablate run` meets end in one line (what happened, what was kept, the command that resumes) and
leave no training behind: Ctrl-C, kill of a backgrounded CLI, a CLI killed outright, a second invocation on a
running grid, a full results disk and a read-only one. The disk faults need a mount of their own: a user and mount
namespace (`unshare -rm`) gives one without privileges; where the kernel refuses those, the tests skip saying so,
except under ABLATE_REQUIRE_NAMESPACES=1 (CI), where they fail."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ablate

from ablations import cli
from ablations.cli.flags import FLAGS
from ablations.declare.flag_kinds import check_flags
from ablations.jobs.executors import run_state
from ablations.runs.run_record import RunRecord

SMOKE = ["run", "rmsnorm_vs_layernorm", "--preset", "smoke"]
NAMESPACES = subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0
if not NAMESPACES and os.environ.get("ABLATE_REQUIRE_NAMESPACES") == "1":
    raise RuntimeError("ABLATE_REQUIRE_NAMESPACES=1 but `unshare -rm` fails here: the disk-fault tests cannot run")
needs_namespaces = pytest.mark.skipif(not NAMESPACES, reason="no user namespaces here (`unshare -rm true` fails), so no "
                                      "private tmpfs or read-only mount for the disk-fault tests")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def session(sid: int) -> list[str]:
    """Command lines of the live processes in a session (a CLI started as its leader, and everything it started)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError):
            continue
    return found


def start(args: list[str], ignore_sigint: bool = False) -> subprocess.Popen:
    """`ablate` as its own session; with SIGINT ignored, as a shell starts `ablate run … &` or nohup does."""
    def setup():  # set either way: a suite started with `&` or nohup would pass on SIGINT ignored to every child
        signal.signal(signal.SIGINT, signal.SIG_IGN if ignore_sigint else signal.SIG_DFL)

    return subprocess.Popen(["ablate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=setup)


def training(process: subprocess.Popen) -> bool:
    return any("submitit.core._submit" in line for line in session(process.pid))


@pytest.mark.parametrize("how", ["ctrl-c", "kill of a backgrounded run"])
def test_a_stopped_run_says_so_in_one_line_and_leaves_no_training(how, tmp_path):
    process = start([*SMOKE, "--seeds", "3", "--results-dir", str(tmp_path)], ignore_sigint=how != "ctrl-c")
    # A task that holds its run's lock is past its start-up, and the CLI is in its watch loop: a signal sent any
    # earlier can land on a task still importing, a race the test would be about instead of the stop.
    wait_for(lambda: training(process) and any(r.being_trained() for r in RunRecord.every(tmp_path, "rmsnorm_vs_layernorm")),
             120, "a run being trained")
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # what the terminal sends to the whole foreground group
    else:
        process.terminate()  # `kill PID`: only the CLI
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.count("\n") == 1 and "Traceback" not in out + err, out + err
    named = "by Ctrl-C" if how == "ctrl-c" else "by SIGTERM"
    assert err.startswith(f"ablate run: stopped {named}; no training is left running; ") and "run(s) finished and kept" in err
    assert err.rstrip().endswith(f"resume with: ablate {' '.join(SMOKE)} --seeds 3 --results-dir {tmp_path}")
    assert session(process.pid) == []  # nothing it started lives on
    states = [run_state(record) for record in RunRecord.every(tmp_path, "rmsnorm_vs_layernorm")]
    assert "running" not in states and set(states) <= {"finished", "interrupted"}


def test_a_cli_killed_outright_takes_its_training_with_it(tmp_path):
    process = start([*SMOKE, "--seeds", "3", "--results-dir", str(tmp_path)], ignore_sigint=True)
    wait_for(lambda: training(process), 120, "a training task")
    process.kill()  # SIGKILL: the CLI can cancel nothing; its task sees it gone and stops
    process.communicate()
    wait_for(lambda: not session(process.pid), 60, "the jobs of a killed CLI to end")


def test_two_runs_of_one_grid_at_once_train_each_run_once_and_never_fail(tmp_path):
    args = [*SMOKE, "--seeds", "2", "--variants", "rmsnorm", "--results-dir", str(tmp_path)]
    first = start(args)
    wait_for(lambda: [r for r in RunRecord.every(tmp_path, "rmsnorm_vs_layernorm") if r.being_trained()], 120,
             "the first invocation to train a run")
    second = start(args)
    outputs = [process.communicate(timeout=600) for process in (first, second)]
    for process, (out, err) in zip((first, second), outputs):
        assert process.returncode == 0 and "FAILED" not in out + err and "Traceback" not in out + err, out + err
    # The second finds a run the first is training (or, arriving between two runs, they race for one's lock).
    assert "left to it" in outputs[0][0] + outputs[1][0]
    records = RunRecord.done(tmp_path, "rmsnorm_vs_layernorm")
    assert len(records) == 2
    for record in records:
        steps = [row["step"] for row in record.read_rows() if row["split"] == "train"]
        assert steps == list(range(1, len(steps) + 1))  # each step once: never two processes on one run


def in_namespace(script: str, **env: str) -> subprocess.CompletedProcess:
    """A bash script as root of its own user and mount namespace, free to mount over the test's folders."""
    return subprocess.run(["unshare", "-rm", "bash", "-euc", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **env})


@needs_namespaces
def test_a_full_results_disk_mid_run_is_one_line_and_the_rerun_finishes(smoke_results, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    run = f"ablate {' '.join(SMOKE)} --seeds 1 --results-dir {results}"
    (finished,) = [r for r in RunRecord.done(smoke_results, "rmsnorm_vs_layernorm")
                   if (r.read_summary()["variant"], r.read_summary()["seed"]) == ("layernorm", 0)]
    script = f"""
        mount -t tmpfs -o size=8m tmpfs {results}
        mkdir -p {results}/runs/rmsnorm_vs_layernorm; cp -r {finished.dir} {results}/runs/rmsnorm_vs_layernorm/
        mkdir {tmp_path}/before {tmp_path}/after; cp -r {results}/runs {tmp_path}/before/
        free=$(df --output=avail -B1 {results} | tail -1)
        fallocate -l $((free - 150000)) {results}/filler   # room for the run's record, not for its checkpoint
        set +e; {run} > {tmp_path}/full.out 2> {tmp_path}/full.err; echo $? > {tmp_path}/full.rc; set -e
        rm {results}/filler
        {run} > {tmp_path}/again.out
        cp -r {results}/runs {tmp_path}/after/
    """
    done = in_namespace(script)  # the tmpfs goes with the namespace: what the test reads was copied out
    assert done.returncode == 0, done.stdout + done.stderr
    err, out = (tmp_path / "full.err").read_text(), (tmp_path / "full.out").read_text()
    assert (tmp_path / "full.rc").read_text().strip() == "1" and err.count("\n") == 1 and "Traceback" not in out + err, err
    assert err.startswith("ablate run: no space left on device ") and str(results) in err and "MB free" in err, err
    assert err.rstrip().endswith(f"resume with: {run}") and "FAILED" not in out
    (kept,) = RunRecord.done(tmp_path / "before", "rmsnorm_vs_layernorm")
    after = RunRecord.done(tmp_path / "after", "rmsnorm_vs_layernorm")
    assert len(after) == 2 and "2/2 done" in (tmp_path / "again.out").read_text()
    assert RunRecord.at(tmp_path / "after", "rmsnorm_vs_layernorm", kept.run_id).read_summary() == kept.read_summary()


@needs_namespaces
@pytest.mark.parametrize("command", [SMOKE, ["report", "rmsnorm_vs_layernorm"], ["upgrade"]])
def test_a_read_only_results_dir_is_refused_in_one_line(command, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    script = f"mount -t tmpfs -o ro tmpfs {results}; ablate {' '.join(command)} --results-dir {results}/mine"
    done = in_namespace(script)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"ablate {command[0]}: --results-dir {results}/mine: {results} is not writable "
                                  "(read-only filesystem); give a directory you can write"), done.stderr


def test_a_run_another_process_trains_is_left_to_it_not_failed(tmp_path):
    """Another process holding a run's lock stands for a first `ablate run` that is training it."""
    argv = [*SMOKE, "--seeds", "1", "--variants", "rmsnorm", "--results-dir", str(tmp_path)]
    args = cli.build_parser().parse_args(argv)
    check_flags(FLAGS["run"], args)
    (spec,) = cli.plan(args)
    holder = subprocess.Popen(["python", "-c", HOLD_LOCK, str(spec.run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    try:
        second = ablate(*argv)
    finally:
        holder.kill()
    assert second.returncode == 0 and "FAILED" not in second.stdout + second.stderr, second.stdout + second.stderr
    assert "1 run(s) already running in another process on this machine: left to it (rmsnorm seed 0)" in second.stdout
    assert not spec.record.is_done and not spec.record.read_job()  # nothing trained, nothing submitted


HOLD_LOCK = """
import sys, time
from pathlib import Path
from ablations.runs.run_record import RunRecord
with RunRecord(Path(sys.argv[1])).exclusive():
    print("locked", flush=True)
    time.sleep(120)
"""
