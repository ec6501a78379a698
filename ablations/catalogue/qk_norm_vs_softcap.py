"""Stability tricks: none, z-loss, QK-norm, attention-logit soft-cap, QK-norm + z-loss, over an LR sweep.

Lecture claim: QK-norm gives lower loss than soft-capping, and lower LR sensitivity; z-loss keeps the
output log-partition log Z near 0.
Sources: Rybakov et al. 2024 (arXiv 2410.16682), 830M model, perplexity: baseline 11.19, soft-cap 11.24,
QK-norm 10.84. Wortsman et al. 2023 (arXiv 2309.14322): attention-logit growth and output-logit
divergence appear in small models at high LR; qk-layernorm and z-loss (1e-4) remove them. Gemma 2
soft-caps attention logits at 50.
Metric and direction (QK-norm − none, paired by seed, per LR): final validation loss lower. Every run
also records the max attention logit per layer, mean output log Z and loss spikes.
"""

from ablations.spec import Ablation, Expectation

ABLATION = Ablation(
    name="qk_norm_vs_softcap",
    claim="QK-norm lowers loss and LR sensitivity more than soft-capping",
    source="Rybakov et al. 2024, arXiv 2410.16682; Wortsman et al. 2023, arXiv 2309.14322",
    base=dict(norm="rms", activation="silu", gated=True, pos="rope", qkv_bias=False, linear_bias=False),
    variants={
        "none": {},
        "z_loss": dict(z_loss=1e-4),
        "qk_norm": dict(qk_norm="rms"),
        "softcap": dict(attn_softcap=50.0),
        "qk_norm_z_loss": dict(qk_norm="rms", z_loss=1e-4),
    },
    baseline="none",
    treatment="qk_norm",
    expectations=(
        Expectation(metric="final_val_loss", direction="lower"),
        Expectation(metric="lr_sensitivity", direction="lower"),
    ),
    lrs=(1e-3, 3e-3, 1e-2, 3e-2),
    paper={"lr_sensitivity": "QK-norm and z-loss remove the high-LR instabilities of small models (Wortsman et al.)",
           "final_val_loss": "ppl 10.84 (QK-norm) vs 11.19 (none) vs 11.24 (soft-cap)"},
)
