import json
import os
import subprocess
import sys
from dataclasses import replace

from conftest import make_spec

from ablations.corpus import Corpus
from ablations.dispatch import dispatch
from ablations.run_record import RunRecord
from ablations.snapshot import git_commit, snapshot_code


def test_a_failing_job_is_reported_with_its_log_and_the_others_still_run(corpus, tmp_path):
    good = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    missing = Corpus(name="gone", sha256="0" * 64, tokens_path=str(tmp_path / "gone.u8"), n_tokens=1000)
    bad = replace(good, corpus=missing, variant="bad")
    lines = []
    progress = dispatch([bad, good], "local", parallel=1, log_dir=tmp_path / "logs", say=lines.append, poll_s=0.2)
    assert progress.done == 1 and len(progress.failed) == 1
    (failure,) = [line for line in lines if line.startswith("FAILED")]
    assert "bad seed 0" in failure and "gone.u8" in failure and progress.failed[0] in failure
    assert "No such file" in open(progress.failed[0]).read()
    assert lines[-1] == "1/2 done · 0 running · 1 failed"
    assert good.record.is_done and not bad.record.is_done


def test_a_local_run_reads_running_while_a_process_holds_its_lock_and_interrupted_after(tmp_path):
    run_dir = tmp_path / "runs" / "a" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "job.json").write_text(json.dumps({"executor": "local", "job_id": "1"}))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"  # another process, as a concurrent `ablate run` would be
    assert RunRecord(run_dir).state() == "running"
    holder.terminate()
    holder.wait()
    assert RunRecord(run_dir).state() == "interrupted"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from ablations.run_record import RunRecord
with RunRecord(Path(sys.argv[1])).exclusive():
    print("locked", flush=True)
    time.sleep(60)
"""


def test_code_in_a_snapshot_reports_the_commit_it_was_taken_from(tmp_path):
    root = snapshot_code(tmp_path / "_snapshots")
    in_snapshot = subprocess.run([sys.executable, "-c", "from ablations.snapshot import git_commit; print(git_commit())"],
                                 cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)
    assert in_snapshot.stdout.strip() == git_commit() != "" and in_snapshot.returncode == 0
