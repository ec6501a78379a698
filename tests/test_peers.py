"""The peer benchmark (ablations/bench/peers.py): matched models, and the command that writes performance.md."""

import pytest
import torch
from conftest import ablate

from ablations.bench.peers import PEERS, STYLES, our_config, peer_model
from ablations.declare.presets import get_preset
from models import Transformer, total_params


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("peer", PEERS)
def test_each_peer_is_matched_in_shape_and_parameters(style, peer):
    config = our_config(style, peer, get_preset("tiny"))
    theirs = peer_model(style, peer, config)
    counted = sum(p.numel() for p in theirs.parameters())
    if peer == "litgpt":
        assert counted == total_params(config)
    else:  # x-transformers: attention-output biases (GPT-2 style) or the GLU projection's bias (Llama) differ
        assert abs(counted / total_params(config) - 1) < 0.01
    tokens = torch.randint(0, 256, (2, config.context))
    assert theirs(tokens).shape == Transformer(config)(tokens).shape == (2, config.context, 256)


def test_bench_peers_writes_the_performance_report(tmp_path):
    done = ablate("bench-peers", "--preset", "smoke", "--rounds", "2", "--warmup", "1", "--overhead-steps", "20",
                  "--overhead-repeats", "2", "--threads", "1", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "reports" / "performance.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith(("| gpt2", "| llama"))]
    assert len(rows) == 4 and all("not installed" not in row for row in rows)
    assert "Median ratio" in report and "1 torch threads" in report
