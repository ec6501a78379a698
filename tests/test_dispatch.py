import json
import os
import subprocess
import sys
from dataclasses import replace

from conftest import make_spec

from ablations.data.corpus import Corpus
from ablations.jobs.dispatch import dispatch, pending_runs
from ablations.jobs.executors import Debug, Local, run_state
from ablations.jobs.profiles import machine_cores
from ablations.runs.run_record import RunRecord
from ablations.runs.snapshot import git_commit, snapshot_code


def test_a_failing_job_is_reported_with_its_log_and_the_others_still_run(corpus, tmp_path):
    good = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    missing = Corpus(name="gone", sha256="0" * 64, tokens_path=str(tmp_path / "gone.u8"), n_tokens=1000)
    bad = replace(good, corpus=missing, variant="bad")
    lines = []
    progress = dispatch([bad, good], Local(parallel=1), log_dir=tmp_path / "logs", say=lines.append, poll_s=0.2)
    assert progress.done == 1 and len(progress.failed) == 1
    (failure,) = [line for line in lines if line.startswith("FAILED")]
    assert "bad seed 0" in failure and "gone.u8" in failure and progress.failed[0] in failure
    assert "No such file" in open(progress.failed[0]).read()
    assert lines[-1] == "1/2 done · 0 running · 1 failed"
    assert good.record.is_done and not bad.record.is_done


def test_parallel_local_runs_each_take_their_share_of_the_cores(corpus, tmp_path):
    specs = [make_spec(corpus, tmp_path, steps=10, eval_every=10, seed=seed) for seed in (0, 1)]
    lines = []
    progress = dispatch(specs, Local(parallel=2), log_dir=tmp_path / "logs", say=lines.append, poll_s=0.2)
    assert progress.done == 2, lines
    share = max(1, machine_cores() // 2)  # torch's default would be every core, twice over
    assert [spec.record.read_summary()["torch_threads"] for spec in specs] == [share, share]
    assert [spec.record.read_summary()["concurrency"] for spec in specs] == [2, 2]
    assert f"2 at a time, {share} torch thread(s) each" in lines[0]


def test_a_local_run_reads_running_while_a_process_holds_its_lock_and_interrupted_after(tmp_path):
    run_dir = tmp_path / "runs" / "a" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps({"executor": "local", "job_id": "1"}))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"  # another process, as a concurrent `ablate run` would be
    assert run_state(RunRecord(run_dir)) == "running"
    holder.terminate()
    holder.wait()
    assert run_state(RunRecord(run_dir)) == "interrupted"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from ablations.runs.run_record import RunRecord
with RunRecord(Path(sys.argv[1])).exclusive():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_code_in_a_snapshot_reports_the_commit_it_was_taken_from(tmp_path):
    root = snapshot_code(tmp_path / "_snapshots")
    in_snapshot = subprocess.run([sys.executable, "-c", "from ablations.runs.snapshot import git_commit; print(git_commit())"],
                                 cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)
    assert in_snapshot.stdout.strip() == git_commit() != "" and in_snapshot.returncode == 0


def test_a_run_another_ablation_finished_is_adopted_not_trained_and_a_stale_one_is_trained(corpus, tmp_path):
    first = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    dispatch([first], Debug(), log_dir=tmp_path / "logs", say=lambda line: None)
    again = replace(first, ablation="other", variant="same_run", design="e")
    assert again.run_id == first.run_id  # the ablation, variant and design are names, not what is computed
    lines = []
    progress = dispatch([again], Debug(), log_dir=tmp_path / "logs", say=lines.append)
    assert progress.skipped == 1 and progress.done == 0 and "1 of them identical" in lines[0]
    theirs, ours = first.record.read_summary(), again.record.read_summary()
    assert ours.pop("adopted_from") == "test" and again.record.read_config()["variant"] == "same_run"
    assert {k: ours.pop(k) for k in ("ablation", "variant", "design")} == {"ablation": "other", "variant": "same_run", "design": "e"}
    assert ours == {k: v for k, v in theirs.items() if k not in ("ablation", "variant", "design")}
    assert again.record.read_history() == first.record.read_history()

    assert pending_runs([again], force=True) == ([again], 0, 0)  # --force trains, never copies
    dispatch([again], Debug(), log_dir=tmp_path / "logs", say=lambda line: None)
    stale = replace(first, ablation="third")  # twins from before a metric existed cannot stand for this run
    for older in (first, again):
        summary = older.record.read_summary()
        older.record.write_summary({k: v for k, v in summary.items() if k != "end_train_loss"})
    assert pending_runs([stale], force=False) == ([stale], 0, 0)
