"""An executor is one class and one registry entry: a toy one, registered here only, takes a tiny ablation from
`ablate run --executor` through dispatch to `ablate status` and `ablate cancel`, with the numbers of the debug executor."""

from dataclasses import dataclass
from pathlib import Path

from ablations import cli
from ablations.jobs.executors import EXECUTORS, Executor, run_state
from ablations.jobs.status import cancel, run_states
from ablations.runs.run_record import RunRecord
from ablations.training.train import TrainJob

RUN = ["run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "1", "--variants", "rmsnorm", "--data", "stdlib"]


@dataclass
class Finished:
    """A job that ran to its end when it was submitted: what dispatch reads of a submitit job."""
    job_id: str
    paths: "Logs"
    result: object = None
    error: BaseException | None = None

    def done(self) -> bool:
        return True

    def exception(self) -> BaseException | None:
        return self.error

    def results(self) -> list:
        return [self.result]


@dataclass
class Logs:
    folder: Path
    stdout: Path
    stderr: Path


class Inline(Executor):
    """Every run trained in this process the moment it is submitted, without submitit."""
    name = "inline"
    help = "in this process, without submitit"

    def submit(self, specs, log_dir, say):
        jobs = []
        for spec in specs:
            logs = Logs(log_dir, log_dir / f"{spec.run_id}.out", log_dir / f"{spec.run_id}.err")
            try:
                jobs.append(Finished(spec.run_id, logs, result=TrainJob(spec)()))
            except Exception as error:  # a failed run is reported by dispatch, as any executor's is
                jobs.append(Finished(spec.run_id, logs, error=error))
        return jobs


def test_a_registered_executor_runs_an_ablation_end_to_end(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(EXECUTORS, Inline.name, Inline)
    assert cli.main([*RUN, "--executor", "inline", "--results-dir", str(tmp_path / "inline")]) == 0
    assert "1 run(s) via the inline executor, 1 at a time" in capsys.readouterr().out
    (record,) = RunRecord.done(tmp_path / "inline", "rmsnorm_vs_layernorm")
    assert record.read_job()["executor"] == "inline" and record.read_job()["job_id"] == record.run_id
    (row,) = run_states(tmp_path / "inline", "rmsnorm_vs_layernorm")
    assert row["state"] == "finished" and row["job"] == record.run_id
    assert cancel(tmp_path / "inline", "rmsnorm_vs_layernorm") == []  # nothing left queued or running

    assert cli.main([*RUN, "--executor", "debug", "--results-dir", str(tmp_path / "debug")]) == 0
    (reference,) = RunRecord.done(tmp_path / "debug", "rmsnorm_vs_layernorm")
    assert reference.run_id == record.run_id  # the same run, trained in this process either way
    assert [r["loss"] for r in record.read_rows()] == [r["loss"] for r in reference.read_rows()]


def test_an_unregistered_executor_is_refused_naming_the_registered_ones(capsys, tmp_path):
    assert cli.main([*RUN, "--executor", "inline", "--results-dir", str(tmp_path)]) == 2
    assert "--executor inline: unknown executor; valid executors: local, debug, slurm" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_job_of_an_executor_no_longer_registered_reads_by_its_lock(tmp_path):
    record = RunRecord.at(tmp_path, "a", "r1")
    record.write_job({"executor": "gone", "job_id": "1"})
    assert run_state(record) == "interrupted"
    with record.exclusive():
        assert run_state(record) == "running"
