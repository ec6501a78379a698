"""`ablate bench-peers`: our model against the implementations people would use instead, x-transformers
(TransformerWrapper + Decoder) and litgpt (GPT), and our Lightning training loop against a bare PyTorch loop.

Each peer is built at the preset's shape in two styles, GPT-2 (pre-norm LayerNorm, GeLU MLP, MHA) and Llama
(pre-norm RMSNorm, SwiGLU, RoPE, GQA with half as many K/V heads), and our config is set to what that peer
computes where the peers differ (x-transformers' LayerNorm has no bias and its attention no biases; litgpt
has no learned positions and an untied head), so each pair has the same shapes and, to within the biases
named in the table, the same parameters. Pairs are timed with `ablations.bench.speed.time_arms`: one full step
(forward, cross-entropy, backward, clipping, AdamW) each in turn after warm-up, medians and paired ratios.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ablations.bench.speed import random_batch, time_arms, train_step
from ablations.declare.presets import Preset
from ablations.judge.speed_verdicts import paired_ratio, slug
from ablations.reporting.markdown import markdown_table
from models import ModelConfig, Transformer, total_params

STYLES = ("gpt2", "llama")
PEERS = ("x_transformers", "litgpt")


def _shape(preset: Preset) -> dict:
    m = preset.model
    return dict(vocab_size=256, context=m["context"], d_model=m["d_model"], n_layers=m["n_layers"], n_heads=m["n_heads"])


def our_config(style: str, peer: str, preset: Preset) -> ModelConfig:
    """Our ModelConfig computing what `peer` computes in `style`."""
    shape = _shape(preset)
    if style == "gpt2":
        if peer == "x_transformers":  # bias-free LayerNorm and attention; biases in the MLP
            return ModelConfig(**shape, norm="layer", norm_bias=False, activation="gelu", pos="learned", qkv_bias=False)
        return ModelConfig(**shape, norm="layer", activation="gelu", pos="rope", tie_embeddings=False)  # litgpt
    gqa = dict(n_kv_heads=shape["n_heads"] // 2, norm="rms", activation="silu", gated=True, pos="rope",
               qkv_bias=False, linear_bias=False)
    if peer == "x_transformers":  # ff_mult 8/3 truncates the hidden width
        return ModelConfig(**shape, **gqa, d_ff=int(shape["d_model"] * 8 / 3))
    return ModelConfig(**shape, **gqa, tie_embeddings=False)  # litgpt: our rounded 8/3 width, given explicitly


def peer_model(style: str, peer: str, config: ModelConfig) -> nn.Module:
    """The peer's model for the shapes of `config` (built by `our_config`), returning logits (B, T, vocab)."""
    heads, head_dim = config.n_heads, config.effective_head_dim
    if peer == "x_transformers":
        from x_transformers import Decoder, TransformerWrapper

        llama = dict(rotary_pos_emb=True, rotary_emb_dim=head_dim, use_rmsnorm=True, ff_glu=True, ff_swish=True,
                     ff_no_bias=True, attn_kv_heads=config.effective_n_kv_heads, ff_mult=8 / 3)
        layers = Decoder(dim=config.d_model, depth=config.n_layers, heads=heads, attn_dim_head=head_dim,
                         **(llama if style == "llama" else dict(ff_mult=4)))
        return TransformerWrapper(num_tokens=config.vocab_size, max_seq_len=config.context, tie_embedding=True,
                                  use_abs_pos_emb=style == "gpt2", attn_layers=layers)
    from litgpt.config import Config
    from litgpt.model import GPT

    return GPT(Config(name=f"{style}-matched", block_size=config.context, vocab_size=config.vocab_size,
                      padded_vocab_size=config.vocab_size, n_layer=config.n_layers, n_head=heads, n_embd=config.d_model,
                      head_size=head_dim, n_query_groups=config.effective_n_kv_heads, rotary_percentage=1.0,
                      parallel_residual=False, bias=style == "gpt2", intermediate_size=config.effective_d_ff,
                      norm_class_name="LayerNorm" if style == "gpt2" else "RMSNorm",
                      mlp_class_name="GptNeoxMLP" if style == "gpt2" else "LLaMAMLP", gelu_approximate="none"))


def _arm(model: nn.Module, device: str, compile: bool):
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
    return (torch.compile(model) if compile else model, optimizer, 1.0)


def bench_peers(preset: Preset, device: str, rounds: int, warmup: int, compile: bool) -> pd.DataFrame:
    """One row per (style, peer, round, arm): the step time. A peer that is not installed is reported as such."""
    frames = []
    for style in STYLES:
        for peer in PEERS:
            config = our_config(style, peer, preset)
            torch.manual_seed(0)
            try:
                theirs = peer_model(style, peer, config)
            except ImportError as error:
                frames.append(pd.DataFrame([dict(style=style, peer=peer, missing=str(error))]))
                continue
            arms = {"ours": _arm(Transformer(config), device, compile), peer: _arm(theirs, device, compile)}
            batch = random_batch(preset.train.batch_size, config.context, device)
            frame = time_arms(arms, batch, device, rounds, warmup)
            frames.append(frame.assign(style=style, peer=peer, ours_params=total_params(config),
                                       peer_params=sum(p.numel() for p in theirs.parameters())))
    return pd.concat(frames, ignore_index=True)


def peer_table(frame: pd.DataFrame) -> str:
    rows = []
    for (style, peer), part in frame.groupby(["style", "peer"], sort=False):
        if "missing" in part and part["missing"].notna().any():
            rows.append([style, peer, "–", "–", "–", "–", f"not installed ({part['missing'].iloc[0]})"])
            continue
        ours, theirs = (part[part["variant"] == name]["step_time_s"].median() for name in ("ours", peer))
        log_ratio, _ = paired_ratio(part, "ours", peer)
        rows.append([style, peer, f"{ours * 1e3:.2f}", f"{theirs * 1e3:.2f}",
                     f"{math.exp(log_ratio.mean):.3f} [{math.exp(log_ratio.low):.3f}, {math.exp(log_ratio.high):.3f}]",
                     f"{int(part['ours_params'].iloc[0]):,} / {int(part['peer_params'].iloc[0]):,}", ""])
    return markdown_table(["style", "peer", "ours, median step (ms)", "peer (ms)", "ours ÷ peer [95% CI]",
                           "parameters, ours / peer", "note"], rows)


def _bare_loop(model: Transformer, batches: list, lr: float, clip: float) -> list[float]:
    """The same training step without Lightning (and without an LR schedule): `speed.train_step` per batch."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    times = []
    for inputs, targets in batches:
        start = time.perf_counter()
        train_step(model, optimizer, inputs, targets, clip).item()  # as a logging loop reads its loss
        times.append(time.perf_counter() - start)
    return times


def lightning_overhead(preset: Preset, steps: int, repeats: int, results_dir) -> pd.DataFrame:
    """Per-step wall time of our full Lightning run (system, loggers, per-step metrics) and of a bare loop over
    the same model and batches, alternating; evaluation and checkpointing off in both. One row per repeat."""
    import lightning as L

    from ablations.declare.train_config import TrainConfig
    from ablations.runs.run_record import RunRecord
    from ablations.training.run_logger import RunRecordLogger
    from ablations.training.system import LanguageModelSystem

    config = ModelConfig(**_shape(preset), norm="rms", activation="silu", gated=True, pos="rope")
    train = TrainConfig(steps=steps, batch_size=preset.train.batch_size, lr=preset.train.lr, warmup_steps=10,
                        eval_every=steps)
    batches = [random_batch(train.batch_size, config.context, "cpu") for _ in range(steps)]
    skip = steps // 10  # warm-up steps left out of both

    class StepTimes(L.Callback):
        """Wall time from one step's start to the next's: Lightning's loop, data and logging included."""

        def __init__(self):
            self.starts = []

        def on_train_batch_start(self, *args):
            self.starts.append(time.perf_counter())

        def on_train_end(self, *args):
            self.starts.append(time.perf_counter())

        @property
        def times(self):
            return [b - a for a, b in zip(self.starts, self.starts[1:])]

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(LeafSpec|val_dataloader|log_every_n_steps|The `srun` command).*")

    def lightning() -> float:
        system, timer = LanguageModelSystem(config, train), StepTimes()
        record = RunRecord.at(results_dir, "overhead", f"repeat{repeat}")
        trainer = L.Trainer(max_steps=steps, logger=[RunRecordLogger(record, steps)], callbacks=[timer],
                            limit_val_batches=0, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, log_every_n_steps=50, gradient_clip_val=train.grad_clip)
        trainer.fit(system, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
        return sum(timer.times[skip:]) / (steps - skip)

    def bare() -> float:
        return sum(_bare_loop(Transformer(config), batches, train.lr, train.grad_clip)[skip:]) / (steps - skip)

    rows = []
    for repeat in range(repeats):
        arms = (("lightning_s", lightning), ("bare_s", bare))
        row = {"repeat": repeat}
        for name, run in arms if repeat % 2 == 0 else arms[::-1]:  # neither always runs first
            torch.manual_seed(repeat)
            row[name] = run()
        rows.append(row)
    return pd.DataFrame(rows)


def write_performance(out_dir, frame: pd.DataFrame, overhead: pd.DataFrame | None, context: dict) -> list:
    """Appends this measurement's CSVs beside the others and rewrites performance.md from all of them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{context['preset']}-{slug(context['device'])}-{'compiled' if context['compiled'] else 'eager'}"
    paths = [out_dir / f"peers-{stem}.csv"]
    frame.assign(**context).to_csv(paths[0], index=False)
    if overhead is not None:
        paths.append(out_dir / f"overhead-{context['preset']}-{slug(context['device'])}.csv")
        overhead.assign(**context).to_csv(paths[-1], index=False)
    paths.insert(0, out_dir / "performance.md")
    paths[0].write_text(performance_markdown(out_dir))
    return paths


def performance_markdown(out_dir) -> str:
    parts = ["# Performance: our model against x-transformers and litgpt, and Lightning against a bare loop",
             "Regenerated by `ablate bench-peers` from the CSVs beside this file. Ratio: geometric mean of the per-round "
             "ratios ours ÷ peer (below 1: ours is faster), paired-t 95% CI on their logarithms; one full training "
             "step per arm in turn. " + __doc__.split("\n\n")[1].replace("\n", " ")]
    for csv in sorted(Path(out_dir).glob("peers-*.csv")):
        frame = pd.read_csv(csv)
        c = frame.iloc[0]
        parts += [f"## {c['device']}, {'torch.compile' if c['compiled'] else 'eager'}, preset `{c['preset']}`",
                  f"{int(c['threads'])} torch threads; torch {c['torch']}, x-transformers {c['x_transformers']}, "
                  f"litgpt {c['litgpt']}; batch {int(c['batch'])} × context {int(c['context'])}; {int(c['rounds'])} "
                  f"rounds after {int(c['warmup'])} warm-up. Command: `{c['command']}`.", peer_table(frame)]
    for csv in sorted(Path(out_dir).glob("overhead-*.csv")):
        frame = pd.read_csv(csv)
        c = frame.iloc[0]
        ratio = frame["lightning_s"] / frame["bare_s"]
        parts += [f"## Harness overhead: {c['device']}, preset `{c['preset']}`",
                  f"Our Lightning run (system, run-record logger, per-step metrics; no evaluation, no checkpoints) vs a "
                  f"bare PyTorch loop over the same model and batches, alternating, {len(frame)} repeats; per-step wall "
                  f"time after the first tenth of the steps. Command: `{c['command']}`.",
                  markdown_table(["repeat", "Lightning (ms/step)", "bare loop (ms/step)", "ratio"],
                                 [[str(r.repeat), f"{r.lightning_s * 1e3:.2f}", f"{r.bare_s * 1e3:.2f}",
                                   f"{r.lightning_s / r.bare_s:.3f}"] for r in frame.itertuples()]),
                  f"Median ratio {ratio.median():.3f} (overhead {100 * (ratio.median() - 1):+.1f}%; goal ≤ +3%)."]
    return "\n\n".join(parts) + "\n"
