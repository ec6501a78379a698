import json
import os

import pytest
from conftest import ablate
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from ablations.runs.run_record import RunRecord
from ablations.training.run_logger import rows_from_metrics


def test_flat_lightning_keys_fold_into_one_row_per_split_with_layers_as_lists():
    metrics = {"val/loss": 1.5, "val/max_attn_logit/1": 3.0, "val/max_attn_logit/0": 2.0, "epoch": 0.0,
               "train/loss": 2.5}
    assert rows_from_metrics(metrics, 40) == [
        {"split": "val", "step": 40, "loss": 1.5, "max_attn_logit": [2.0, 3.0]},
        {"split": "train", "step": 40, "loss": 2.5},
    ]


def test_tensorboard_shows_every_run_of_an_ablation_side_by_side(smoke_results):
    """What `tensorboard --logdir results/runs/<ablation>` loads: one run per (variant, seed, LR), every step."""
    root = smoke_results / "runs" / "rmsnorm_vs_layernorm"
    board = EventMultiplexer().AddRunsFromDirectory(str(root))
    board.Reload()
    runs = board.Runs()
    assert sorted(name.split("/")[-1] for name in runs) == [
        "layernorm_seed0_lr0.001", "layernorm_seed1_lr0.001", "rmsnorm_seed0_lr0.001", "rmsnorm_seed1_lr0.001"]
    for name in runs:
        record = RunRecord(root / name.split("/")[0])
        rows = record.read_rows()
        scalars = board.Scalars(name, "train/loss")
        assert [e.step for e in scalars] == [r["step"] for r in rows if r["split"] == "train"]
        assert [e.value for e in scalars] == [pytest.approx(r["loss"], rel=1e-6) for r in rows if r["split"] == "train"]
        val = board.Scalars(name, "val/loss")
        expected = [(r["step"], pytest.approx(r["loss"], rel=1e-6)) for r in rows if r["split"] == "val"]
        assert [(e.step, e.value) for e in val] == expected
        assert "train/grad_norm_layer/1" in board.GetAccumulator(name).Tags()["scalars"]


def _wandb_records(path) -> list:
    """The protobuf records of an offline .wandb file (LevelDB's log format: 32 KiB blocks of framed records)."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data, pos, records, pending = path.read_bytes(), 7, [], b""  # after the ':W&B' header
    while pos + 7 <= len(data):
        if (left := 32768 - pos % 32768) < 7:
            pos += left  # a block's tail too short for a frame is padding
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pending, pos = pending + data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            records.append(wandb_internal_pb2.Record.FromString(pending))
            pending = b""
    return records


def test_wandb_logs_each_run_offline_named_and_grouped_with_the_steps_of_its_record(tmp_path):
    results = tmp_path / "results"
    env = {**os.environ, "WANDB_MODE": "offline", "HOME": str(tmp_path), "ABLATE_OFFLINE": "1"}
    done = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "1", "--executor", "debug", "--wandb",
                  "--data", "stdlib", "--results-dir", str(results), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted((results / "runs" / "rmsnorm_vs_layernorm").glob("*/summary.json"))
    assert len(runs) == 2  # two runs in one process (the debug executor): each its own W&B run
    for summary in runs:
        record, config = RunRecord(summary.parent), json.loads((summary.parent / "config.json").read_text())
        (log,) = summary.parent.glob("wandb/offline-run-*/run-*.wandb")
        records = _wandb_records(log)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert run.run_id == config["run_id"] and run.project == "ablate"
        assert run.run_group == f"rmsnorm_vs_layernorm-{config['design']}"
        assert run.display_name == f"{config['variant']}_seed0_lr0.001" and run.job_type == config["variant"]
        history = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item} for r in records
                   if r.WhichOneof("record_type") == "history"]
        logged = [(h["trainer/global_step"], h["train/loss"]) for h in history if "train/loss" in h]
        rows = [(r["step"], r["loss"]) for r in record.read_rows() if r["split"] == "train"]
        assert [s for s, _ in logged] == [s for s, _ in rows]
        assert [v for _, v in logged] == [pytest.approx(v, rel=1e-6) for _, v in rows]


def test_wandb_without_a_login_is_refused_before_any_run_starts(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")} | {"HOME": str(tmp_path)}
    done = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--wandb", "--data", "stdlib",
                  "--results-dir", str(tmp_path / "results"), env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--wandb: no W&B login here" in done.stderr and "WANDB_MODE=offline" in done.stderr
    assert not (tmp_path / "results").exists()
