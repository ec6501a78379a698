"""torch.compile (CPU inductor) against eager: same logits and gradients on every variant axis, and a compiled
training run that is the eager run up to float rounding."""

import pytest
import torch
from axis_values import small
from conftest import make_spec

from ablations.bench.doctor import PACKED as DOCTOR_PACKED
from ablations.bench.doctor import PLAIN
from ablations.training.train import train
from models import Transformer

# Every axis of tests/axis_values.py, packed into the doctor's four models so each compilation covers many axes;
# learned and no positions add or skip one table lookup, which compiles like any embedding.
PACKED = [axes for name, axes in DOCTOR_PACKED.items() if name != PLAIN]


@pytest.mark.parametrize("axes", PACKED, ids=[f"packed{i}" for i in range(len(PACKED))])
def test_compiled_logits_and_gradients_equal_eager(axes):
    torch.manual_seed(0)
    eager = Transformer(small(**axes))
    compiled = Transformer(small(**axes))
    compiled.load_state_dict(eager.state_dict())
    compiled.compile(backend="inductor")
    tokens = torch.randint(0, 256, (2, 16))
    outputs = []
    for model in (eager, compiled):
        logits = model(tokens)
        logits.float().logsumexp(-1).mean().backward()
        outputs.append((logits, {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-4, atol=1e-5)
    for name, grad in outputs[0][1].items():
        torch.testing.assert_close(outputs[1][1][name], grad, rtol=1e-3, atol=1e-5, msg=name)


def test_a_compiled_run_is_the_eager_run_under_its_own_id(corpus, tmp_path):
    eager_spec = make_spec(corpus, tmp_path, steps=10, eval_every=10, pos="rope", norm="rms")
    compiled_spec = make_spec(corpus, tmp_path, steps=10, eval_every=10, pos="rope", norm="rms").__class__(
        **{**eager_spec.__dict__, "compile": True})
    assert compiled_spec.run_id != eager_spec.run_id
    eager, compiled = train(eager_spec), train(compiled_spec)
    assert compiled["compile"] is True and eager["compile"] is False
    assert abs(compiled["final_val_loss"] - eager["final_val_loss"]) < 1e-3
    assert compiled["first_step_excess_s"] > eager["first_step_excess_s"]  # the compilation, recorded apart
