import pytest
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
