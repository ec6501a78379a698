"""The probes of `ablate doctor --full` that are more than a timed step: host synchronisations inside the training
system, the largest batch that fits, a one-process DDP step, and a real `ablate run` followed by `ablate report`.
Each returns plain figures; `ablations.bench.gpu_check` turns them into rows of its table."""

from __future__ import annotations

import copy
import logging
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import torch

from ablations.bench.doctor import SHAPE, step_loss
from models import ModelConfig, Transformer

WINDOW = "doctor: steps between flushes"  # the profiler annotation around the counted steps


def host_syncs(device: str, config: ModelConfig, batch_size: int, warm: int = 3, window: int = 10) -> tuple[Counter, int]:
    """Runtime synchronisation calls (cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize …) seen by
    the profiler over `window` steps of `LanguageModelSystem` under Lightning, after `warm` steps and before the only
    flush (the last step). Counted inside an annotation that closes before the profiler stops, since stopping it
    synchronises the device. Returns them by name, and how many profiled events the window held."""
    import lightning as L
    from lightning.fabric.plugins.environments import LightningEnvironment
    from torch.profiler import ProfilerActivity, profile, record_function

    from ablations.bench.speed import random_batch
    from ablations.declare.train_config import TrainConfig
    from ablations.training.system import LanguageModelSystem

    steps = warm + window + 1
    train = TrainConfig(steps=steps, batch_size=batch_size, warmup_steps=1, eval_every=steps, eval_batches=1)
    profiler = profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else []))
    annotation = record_function(WINDOW)

    class Window(L.Callback):
        """Callbacks' batch-start hook runs before the system's, so the window holds whole steps."""

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == warm:
                profiler.start()
                annotation.__enter__()
            elif batch_idx == warm + window:
                annotation.__exit__(None, None, None)
                profiler.stop()

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    system = LanguageModelSystem(config, train, log_every=steps)
    batches = [random_batch(batch_size, config.context, "cpu") for _ in range(steps)]
    trainer = L.Trainer(accelerator=device, devices=1, plugins=[LightningEnvironment()], max_steps=steps, logger=False,
                        callbacks=[Window()], limit_val_batches=0, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, gradient_clip_val=train.grad_clip,
                        precision="bf16-mixed" if device == "cuda" else "32-true")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(LeafSpec|val_dataloader|The `srun` command).*")
        trainer.fit(system, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    events = profiler.events()
    span = next(e.time_range for e in events if e.name == WINDOW)
    inside = [e for e in events if span.start <= e.time_range.start <= span.end and e.name != WINDOW]
    return Counter(e.name for e in inside if "Synchronize" in e.name), len(inside)


def largest_batch(fits: Callable[[int], bool], start: int, cap: int) -> int:
    """The largest batch size ≤ cap for which `fits` holds (assumed monotone), to within 1/16 below it: doubling
    from `start`, then bisection. 0 when not even a batch of 1 fits."""
    low, high = 0, start
    while high <= cap and fits(high):
        low, high = high, 2 * high
    high = min(high, cap + 1)
    while high - low > max(1, low // 16):
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low


def cuda_fits(config: ModelConfig) -> Callable[[int], bool]:
    """Whether one eager bf16 AdamW training step at a batch size runs out of GPU memory; one model and optimiser
    for every probe, the allocator's cache emptied after each."""
    model = Transformer(config).to("cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def step(batch: int) -> None:
        tokens = torch.randint(0, config.vocab_size, (batch, config.context + 1), device="cuda")
        step_loss(model, tokens, torch.bfloat16).backward()
        optimizer.step()
        torch.cuda.synchronize()

    def fits(batch: int) -> bool:
        try:
            step(batch)
            ok = True
        except torch.cuda.OutOfMemoryError:
            ok = False  # leaving the except clause frees the failed step's tensors
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        return ok

    return fits


def ddp_step(device: str, scratch: Path) -> tuple[float, dict, dict]:
    """One step of a small model through DistributedDataParallel in a one-process group (NCCL on a GPU, gloo on
    CPU; rendezvous through a file in `scratch`), and the same step without DDP from the same weights. Returns the
    DDP loss and both models' gradients by parameter name; averaged over one rank, they must be equal."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.manual_seed(0)
    plain = Transformer(ModelConfig(**SHAPE, pos="learned")).to(device)
    wrapped = copy.deepcopy(plain)
    tokens = torch.randint(0, 256, (4, SHAPE["context"] + 1), device=device)
    dist.init_process_group("nccl" if device == "cuda" else "gloo", init_method=(Path(scratch) / "store").as_uri(),
                            rank=0, world_size=1)
    try:
        ddp = DistributedDataParallel(wrapped, device_ids=[torch.cuda.current_device()] if device == "cuda" else None)
        loss = step_loss(ddp, tokens, torch.float32)
        loss.backward()
    finally:
        dist.destroy_process_group()
    step_loss(plain, tokens, torch.float32).backward()
    return loss.item(), *({n: p.grad for n, p in m.named_parameters()} for m in (wrapped, plain))


RUN_ABLATION, RUN_VARIANT = "rmsnorm_vs_layernorm", "layernorm"


def run_and_report(device: str, results: Path, timeout_s: int = 600) -> dict:
    """`ablate run` of one variant and seed of the smoke preset through the local executor (real subprocesses), then
    `ablate report`, into `results`. `ablate run` has no steps override (small is 5,000 steps), hence smoke; under
    --device cpu the GPUs are hidden from both. Returns each command's exit code and seconds, and the run's summary."""
    from ablations.runs.run_record import RunRecord

    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if device == "cpu" else {})}
    commands = {"run": ["run", RUN_ABLATION, "--preset", "smoke", "--variants", RUN_VARIANT, "--seeds", "1",
                        "--executor", "local", "--results-dir", str(results)],
                "report": ["report", RUN_ABLATION, "--results-dir", str(results)]}
    done = {}
    for name, args in commands.items():
        start = time.perf_counter()
        finished = subprocess.run([sys.executable, "-m", "ablations.cli", *args], capture_output=True, text=True,
                                  env=env, timeout=timeout_s)
        done[name] = dict(returncode=finished.returncode, seconds=time.perf_counter() - start,
                          tail=(finished.stdout + finished.stderr).strip().splitlines()[-1:])
        if finished.returncode:
            break
    records = RunRecord.done(results, RUN_ABLATION)
    done["summary"] = records[0].read_summary() if records else None
    done["table"] = (results / "reports" / RUN_ABLATION / "table.md").exists()
    return done
