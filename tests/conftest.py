import os
import subprocess
from pathlib import Path

import pytest

from ablations.data.corpus import load_corpus
from ablations.declare.train_config import TrainConfig
from ablations.runs.run_spec import RunSpec
from models import ModelConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SHAKESPEARE = SHARED_DATA / "tinyshakespeare.txt"
needs_shakespeare = pytest.mark.skipif(not SHAKESPEARE.exists(), reason=f"Tiny Shakespeare not at {SHAKESPEARE}")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets its own cache and results; the shared Tiny Shakespeare copy is the data dir."""
    monkeypatch.setenv("ABLATE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("ABLATE_RESULTS", str(tmp_path_factory.mktemp("results")))
    monkeypatch.setenv("ABLATE_OFFLINE", "1")  # tests never download: Tiny Shakespeare from ../shared, else stdlib
    for offline in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # nor reach the Hugging Face hub (datasets, tokenizers)
        monkeypatch.setenv(offline, "1")
    monkeypatch.setenv("WANDB_MODE", "offline")  # nor Weights & Biases
    if SHAKESPEARE.exists():
        monkeypatch.setenv("ABLATE_DATA_DIR", str(SHARED_DATA))
    else:
        monkeypatch.delenv("ABLATE_DATA_DIR", raising=False)


@pytest.fixture
def tiny_config() -> ModelConfig:
    return ModelConfig(d_model=32, n_layers=2, n_heads=4, context=16)


@pytest.fixture
def corpus():
    """Tiny Shakespeare when the shared copy exists, else the always-present stdlib corpus."""
    return load_corpus("shakespeare" if SHAKESPEARE.exists() else "stdlib", context=64)


def make_spec(corpus, results_dir, *, steps=30, eval_every=10, lr=3e-3, grad_clip=1.0, seed=0, variant="v", log_every=50,
              **model):
    """A RunSpec for a 2-layer, 32-wide model: a few seconds of training on CPU."""
    config = ModelConfig(**{"d_model": 32, "n_layers": 2, "n_heads": 2, "context": 32, **model})
    train = TrainConfig(steps=steps, batch_size=4, lr=lr, warmup_steps=5, eval_every=eval_every, eval_batches=2,
                        grad_clip=grad_clip)
    return RunSpec(ablation="test", variant=variant, preset="test", seed=seed, model=config, train=train, corpus=corpus,
                   results_dir=str(results_dir), design="d", log_every=log_every)


def ablate(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The installed `ablate` command, for real, in a subprocess."""
    return subprocess.run(["ablate", *args], capture_output=True, text=True, env=env or dict(os.environ), timeout=600)


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    """`ablate run rmsnorm_vs_layernorm --preset smoke --seeds 2` through the local executor, once per session."""
    results = tmp_path_factory.mktemp("smoke_results")
    env = {**os.environ, "ABLATE_CACHE": str(tmp_path_factory.getbasetemp() / "cache"), "ABLATE_OFFLINE": "1"}
    if SHAKESPEARE.exists():
        env["ABLATE_DATA_DIR"] = str(SHARED_DATA)
    run = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "2", "--results-dir", str(results), env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    return results
