import re
from pathlib import Path

import pytest

import ablations
from ablations.jobs.executors import run_state
from ablations.runs.run_record import STATES, RunRecord, thin_history

PACKAGE = Path(ablations.__file__).parent
RUN_FILES = ("summary.json", "config.json", "metrics.jsonl", "history.jsonl", "job.json", "last.ckpt", ".lock")


def test_no_other_module_spells_a_run_file_name():
    spelled = {path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
               for name in RUN_FILES if re.search(rf"[\"'/]{re.escape(name)}[\"']", path.read_text())}
    assert spelled == {"runs/run_record.py"}


def test_states_follow_the_files_of_the_run(tmp_path):
    record = RunRecord.at(tmp_path, "a", "r1")
    assert run_state(record) == "not started" and RunRecord.every(tmp_path, "a") == []
    record.register({"variant": "v", "seed": 0})
    record.register({"variant": "changed"})  # written once, when first queued or started
    assert record.read_config() == {"variant": "v", "seed": 0} and RunRecord.every(tmp_path, "a") == [record]
    record.write_job({"executor": "local", "job_id": "1"})
    assert run_state(record) == "interrupted"  # a local job whose process holds no lock
    with record.exclusive():
        assert run_state(record) == "running"
        with pytest.raises(RuntimeError, match="being trained by another process"):
            with RunRecord(record.dir).exclusive():
                pass
    record.write_summary({"diverged": True, "diverged_at_step": 7})
    assert run_state(record) == "diverged" and record.detail("diverged") == "at step 7"
    record.write_summary({"diverged": False})
    assert run_state(record) == "finished" and RunRecord.done(tmp_path, "a") == [record]
    assert set(STATES) >= {"not started", "interrupted", "running", "diverged", "finished", "queued", "failed"}


def test_a_restarted_run_rewrites_the_steps_after_its_checkpoint_once(tmp_path):
    record = RunRecord(tmp_path / "r")
    record.append_rows([{"split": "train", "step": s, "loss": 1.0} for s in range(1, 8)] + [{"split": "val", "step": 5}])
    (record.dir / "metrics.jsonl").open("a").write('{"split": "train", "st')  # a line cut short by a kill
    record.keep_rows_before(6)
    record.append_rows([{"split": "train", "step": 6, "loss": 2.0}])
    expected = [("train", s) for s in range(1, 6)] + [("val", 5), ("train", 6)]
    assert [(r["split"], r["step"]) for r in record.read_rows()] == expected


def test_history_is_written_from_the_record_and_read_back(tmp_path):
    record = RunRecord(tmp_path / "r")
    rows = [{"split": "train", "step": s, "loss": float(s)} for s in range(1, 1002)]
    record.append_rows(rows)
    assert record.read_history() == thin_history(rows)  # no history.jsonl yet: thinned on the fly
    record.write_history()
    record.dir.joinpath("metrics.jsonl").unlink()  # the full record is not committed; the history is
    assert record.read_history() == thin_history(rows)


def test_history_keeps_evals_and_step_one_and_averages_the_rest_in_windows():
    train_rows = [{"split": "train", "step": s, "loss": float(s), "grad_norm_layer": [s, 2.0 * s]} for s in range(1, 1002)]
    val_rows = [{"split": "val", "step": s, "loss": 0.5} for s in range(100, 1001, 100)]
    history = thin_history(train_rows + val_rows, points=100)
    assert [r for r in history if r["split"] == "val"] == val_rows
    kept = [r for r in history if r["split"] == "train"]
    assert kept[0] == train_rows[0] and len(kept) == 101  # steps 2..11 → 11, ..., 992..1001 → 1001
    assert kept[1] == {"split": "train", "step": 11, "loss": 6.5, "grad_norm_layer": [6.5, 13.0]}
    assert kept[-1]["step"] == 1001 and kept[-1]["loss"] == sum(range(992, 1002)) / 10


def test_a_run_whose_files_cannot_be_read_is_damaged_never_finished(tmp_path):
    record = RunRecord.at(tmp_path, "a", "r1")
    record.register({"variant": "v", "seed": 0, "preset": "smoke"})
    record.write_summary({"diverged": False, "final_val_loss": 1.5})
    whole = (record.dir / "summary.json").read_bytes()
    (record.dir / "summary.json").write_bytes(whole[: len(whole) // 2])  # a disk that filled mid-write, say
    assert run_state(record) == "damaged" and not record.is_done and record.damage() == "summary.json cannot be read (cut short or edited)"
    assert RunRecord.done(tmp_path, "a") == [] and RunRecord.damaged(tmp_path, "a") == [record]
    assert "`ablate run a` with the same flags trains it again" in record.detail("damaged")
    record.write_summary({"diverged": False})
    assert run_state(record) == "finished" and RunRecord.damaged(tmp_path, "a") == []

    (record.dir / "config.json").write_text('{"variant": ')
    assert run_state(record) == "damaged" and record.read_config_or_none() is None
    record.register({"variant": "v"})  # the next start writes a damaged config again
    assert record.read_config() == {"variant": "v"}

    record.checkpoint_dir.mkdir()
    record.checkpoint.write_bytes(b"PK\x03\x04 the start of a zip, cut short")
    assert run_state(record) == "damaged" and "last.ckpt" in record.damage()
