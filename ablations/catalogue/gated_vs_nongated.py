"""Gated vs non-gated MLPs at matched parameter count.

Lecture claim: gated linear units (ReGLU, GeGLU, SwiGLU) reach lower loss than ReLU / GeLU MLPs of the
same size, which is why most models since PaLM and LLaMA use SwiGLU.
Source: Shazeer 2020 (arXiv 2002.05202), T5-base log-perplexity at 524k steps: SwiGLU 1.636, GEGLU
1.633 vs ReLU 1.677; Narang et al. 2021: SwiGLU 1.789, GeGLU 1.792, ReGLU 1.803 vs ReLU 1.838.
Metric and direction (SwiGLU − ReLU, paired by seed): final validation loss lower.
Matching: non-gated d_ff = 4·d; gated d_ff = 8/3·d rounded up to a whole unit, so the three gated
matrices hold the same parameters as the two plain ones (within 1%).
"""

from ablations.spec import LOSS_TARGET, LOSS_WHY, Ablation, Claim

ABLATION = Ablation(
    name="gated_vs_nongated",
    headline="gated MLPs (SwiGLU) reach lower loss than ReLU at the same parameter count",
    source="Shazeer 2020, arXiv 2002.05202; Narang et al. 2021, arXiv 2102.11972",
    base=dict(norm="rms", pos="rope", qkv_bias=False, linear_bias=False, d_ff_multiple=1),
    variants={
        "relu": dict(activation="relu", gated=False),
        "gelu": dict(activation="gelu", gated=False),
        "reglu": dict(activation="relu", gated=True),
        "geglu": dict(activation="gelu", gated=True),
        "swiglu": dict(activation="silu", gated=True),
    },
    baseline="relu",
    claims=(
        Claim(says="SwiGLU reaches lower loss than ReLU", treatment="swiglu", baseline="relu", metric="final_val_loss",
              direction="lower", target=LOSS_TARGET, why=LOSS_WHY,
              paper="SwiGLU 1.789 vs ReLU 1.838 nats/token (Narang); 1.636 vs 1.677 (Shazeer)"),
        Claim(says="GeGLU reaches lower loss than GeLU", treatment="geglu", baseline="gelu", metric="final_val_loss",
              direction="lower", target=LOSS_TARGET, why=LOSS_WHY, paper="GeGLU 1.633 vs GELU 1.679 nats/token (Shazeer)"),
    ),
)
