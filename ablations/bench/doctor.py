"""`ablate doctor`: the check to run first on a new machine or cluster. Every variant axis, packed into a few
models, takes one training step in bf16 autocast and in float32, eager and compiled: losses finite and equal
within bf16's tolerance, gradients finite; on a GPU, plain attention must run on a fused SDPA kernel (flash or
memory-efficient: the math fallback is refused) and compiled windows, soft-caps and biases must reach
FlexAttention. Then a short run of one preset reports tokens/s and MFU."""

from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F

from ablations.training.device import device_name, peak_flops
from models import ModelConfig, Transformer, training_flops_per_token
from models.config import LLAMA_STYLE

PLAIN = "plain gpt-2"  # the reference whose attention must run on a fused SDPA kernel
# Every axis's non-default values, packed into four models, and the plain one (tests/test_compile.py compiles these).
PACKED = {
    "double-norm swiglu rope-interleaved gqa qk-norm soft-cap local/global z-loss": dict(
        norm="rms", norm_position="double", activation="silu", gated=True, pos="rope", rope_layout="interleaved",
        rotary_fraction=0.5, n_kv_heads=2, qk_norm="rms", attn_softcap=5.0, sliding_window=4,
        layer_pattern=("local", "global"), global_pos="none", z_loss=1e-4, output_softcap=3.0, tie_embeddings=False),
    "post-norm relu² alibi parallel mqa qk-layernorm(all) embed-norm": dict(
        norm="layer", norm_position="post", final_norm=False, activation="relu2", pos="alibi", block="parallel",
        n_kv_heads=1, qk_norm="layer", qk_norm_scope="all", scale_embeddings=True, logit_scale=0.5, embed_norm=True),
    "no-norm post-block gelu-tanh t5 head_dim window": dict(
        norm="none", final_norm=False, norm_position="post_block", activation="gelu_tanh", pos="t5", head_dim=16, attn_scale=0.1,
        qkv_bias=False, linear_bias=False, sliding_window=3, layer_pattern=("local",)),
    "offset-rms geglu sinusoidal parallel-two-norms": dict(
        norm="rms", norm_scale="offset", activation="gelu", gated=True, pos="sinusoidal", block="parallel_two_norms",
        d_ff=48, norm_bias=False),
    PLAIN: dict(pos="learned"),
}
SHAPE = dict(d_model=64, n_layers=2, n_heads=4, context=64)
BF16_TOLERANCE = 0.05  # nats: |loss_bf16 − loss_fp32| at initialisation, where the loss is ≈ log(256) = 5.5


def step_loss(model, tokens, dtype) -> torch.Tensor:
    """Next-token cross-entropy of (B, T+1) tokens, the forward under bf16 autocast when `dtype` is bfloat16."""
    with torch.autocast(tokens.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        logits = model(tokens[:, :-1])
    return F.cross_entropy(logits.float().flatten(0, 1), tokens[:, 1:].flatten())


def _fused_sdpa_only(device: str):
    """On a GPU, forbid SDPA's math fallback: a plain model that still runs used a fused kernel."""
    if device != "cuda":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION])


def _flex_ran(model, tokens) -> bool:
    """Whether a compiled step launched FlexAttention's kernel (its name carries 'flex')."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step_loss(model, tokens, torch.bfloat16).backward()
        torch.cuda.synchronize()
    return any("flex" in event.name.lower() for event in prof.events())


def check_axes(device: str, compile_too: bool, say=print) -> list[dict]:
    """One row per (packed model, eager/compiled): losses, their gap, finite gradients, the kernels' check."""
    rows = []
    for name, axes in PACKED.items():
        config = ModelConfig(**SHAPE, **axes)
        torch.manual_seed(0)
        tokens = torch.randint(0, 256, (4, config.context + 1), device=device)
        for compiled in (False, True) if compile_too else (False,):
            model = Transformer(config).to(device)
            if compiled:
                model.compile()
            fp32 = step_loss(model, tokens, torch.float32).item()
            with _fused_sdpa_only(device) if name == PLAIN else contextlib.nullcontext():
                loss = step_loss(model, tokens, torch.bfloat16)
                loss.backward()
            grads_finite = all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
            needs_flex = any(block.attn.beyond_sdpa for block in model.blocks)
            kernel = "n/a on CPU"
            if device == "cuda":
                kernel = "fused SDPA" if name == PLAIN else (
                    ("FlexAttention" if _flex_ran(model, tokens) else "NOT FlexAttention") if compiled and needs_flex
                    else "SDPA / explicit (eager)")
            ok = (abs(loss.item() - fp32) < BF16_TOLERANCE and grads_finite and torch.isfinite(loss).item()
                  and not kernel.startswith("NOT"))
            rows.append(dict(model=name, compiled=compiled, fp32_loss=fp32, bf16_loss=loss.item(),
                             gap=abs(loss.item() - fp32), grads_finite=grads_finite, needs_flex=needs_flex, kernel=kernel,
                             ok=ok))
            say(f"{'ok  ' if ok else 'FAIL'} {name} ({'compiled' if compiled else 'eager'}): bf16 {loss.item():.4f} vs "
                f"fp32 {fp32:.4f}, gradients {'finite' if grads_finite else 'NOT finite'}, {kernel}")
    return rows


def speed_config(preset) -> ModelConfig:
    """The Llama-style model (RMSNorm, SwiGLU, RoPE, no biases) whose tokens/s and MFU the doctor reports."""
    return ModelConfig(**preset.model, **LLAMA_STYLE)


def throughput(config: ModelConfig, batch_size: int, device: str, compile: bool, steps: int = 30) -> dict:
    """Median tokens/s of AdamW training steps in bf16 (on a GPU) after warm-up, and the MFU it gives."""
    model = Transformer(config).to(device)
    if compile:
        model.compile()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    tokens = torch.randint(0, config.vocab_size, (batch_size, config.context + 1), device=device)
    times = []
    for step in range(steps + 5):
        start = time.perf_counter()
        step_loss(model, tokens, torch.bfloat16 if device == "cuda" else torch.float32).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= 5:  # compilation and allocator warm-up
            times.append(time.perf_counter() - start)
    tokens_per_s = batch_size * config.context / sorted(times)[len(times) // 2]
    peak = peak_flops(device_name(torch.device(device)))
    mfu = training_flops_per_token(config) * tokens_per_s / peak if peak else None
    return dict(tokens_per_s=tokens_per_s, mfu=mfu)
