import sys

import lightning as L
import pytest
import torch
from conftest import make_spec

from ablations.data.batches import TokenDataModule
from ablations.training.system import LanguageModelSystem, warmup_cosine
from ablations.training.train import train


def test_paired_variants_start_from_the_same_weights_and_see_the_same_batches(corpus, tmp_path):
    # Norm type changes no parameter shape, so with one seed both variants start from identical matrices.
    systems = []
    for norm in ("layer", "rms"):
        spec = make_spec(corpus, tmp_path, norm=norm, norm_bias=False)
        L.seed_everything(3, verbose=False)
        systems.append(dict(LanguageModelSystem(spec.model, spec.train).named_parameters()))
    layer, rms = systems
    assert layer.keys() == rms.keys()
    for name in layer:
        torch.testing.assert_close(layer[name], rms[name])
    modules = [TokenDataModule(corpus, seed=3, steps=5, batch_size=4, context=32, eval_batches=2) for _ in range(2)]
    for (xa, ya), (xb, yb) in zip(*(m.train_dataloader() for m in modules), strict=True):
        torch.testing.assert_close((xa, ya), (xb, yb))


def test_z_loss_adds_alpha_log_z_squared_and_log_z_is_reported(corpus, tmp_path):
    spec = make_spec(corpus, tmp_path, z_loss=0.5)
    L.seed_everything(0, verbose=False)
    system = LanguageModelSystem(spec.model, spec.train)
    batch = next(iter(TokenDataModule(corpus, 0, 1, 4, 32, 1).train_dataloader()))
    logits = system.model(batch[0]).float()
    log_z = logits.logsumexp(-1)
    cross_entropy = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[1].flatten())
    total = system.training_step(batch, 0)
    torch.testing.assert_close(total, cross_entropy + 0.5 * log_z.square().mean())
    torch.testing.assert_close(system.pending[-1]["loss"], cross_entropy)  # still on the device, read at the next flush
    torch.testing.assert_close(system.pending[-1]["log_z"], log_z.mean())


@pytest.mark.parametrize("step, expected", [(0, 0.1), (9, 1.0), (10, 1.0), (55, 0.55), (100, 0.1), (150, 0.1)])
def test_warmup_then_cosine_schedule(step, expected):
    assert warmup_cosine(step, warmup=10, total=100, min_ratio=0.1) == pytest.approx(expected)


def test_per_step_values_reach_the_host_only_when_an_interval_is_flushed(corpus, tmp_path, monkeypatch):
    """On a GPU every host read of a device tensor is a sync: training steps between flushes make none from the
    harness or Lightning. (AdamW's step counter lives on the host; torch.optim's reads of it are not counted.)"""
    reads = []
    for name in ("item", "tolist", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)

        def read(self, *args, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if "torch/optim" not in caller:
                reads.append(current["step"])
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(torch.Tensor, name, read)

    class Where(L.Callback):
        def on_train_batch_start(self, trainer, *args):
            current["step"] = trainer.global_step + 1
        def on_validation_start(self, trainer, *args):
            current["step"] = "val"
        def on_validation_end(self, trainer, *args):
            current["step"] = "between"

    current = {"step": "setup"}
    spec = make_spec(corpus, tmp_path, steps=40, eval_every=20, log_every=8)
    train(spec, extra_callbacks=[Where()])
    in_steps = {step for step in reads if isinstance(step, int)}
    assert in_steps == {8, 16, 20, 24, 32, 40}  # every log_every steps and before each evaluation
    assert [r["step"] for r in spec.record.read_rows() if r["split"] == "train"] == list(range(1, 41))
