"""RMSNorm vs LayerNorm.

Lecture claim: RMSNorm is faster than LayerNorm (no mean, no bias: fewer memory passes) and
matches or beats its loss, which is why nearly every model since 2023 uses it.
Source: Narang et al. 2021 (arXiv 2102.11972), T5-base, 524k steps: RMSNorm 3.68 vs LayerNorm
3.50 steps/s, final loss 1.821 vs 1.838.
Metrics and expected directions (RMSNorm − LayerNorm, paired by seed):
tokens/s higher; final validation loss not higher than LayerNorm's by more than 0.01 nats,
the seed-to-seed noise floor at this scale.
Both variants are pre-norm GPT-2 blocks without biases, so the only difference is the
normalisation itself (LayerNorm with a bias would also carry d_model extra parameters per norm).
"""

from ablations.declare.spec import Ablation, Claim

ABLATION = Ablation(
    name="rmsnorm_vs_layernorm",
    headline="RMSNorm is faster than LayerNorm and matches or beats its loss",
    source="Narang et al. 2021, arXiv 2102.11972, Table 1",
    base=dict(norm_position="pre", activation="gelu", gated=False, pos="learned", qkv_bias=False, linear_bias=False,
              norm_bias=False),
    variants={"layernorm": dict(norm="layer"), "rmsnorm": dict(norm="rms")},
    baseline="layernorm",
    claims=(
        Claim(says="RMSNorm matches LayerNorm's loss", treatment="rmsnorm", baseline="layernorm",
              metric="final_val_loss", direction="matches", margin=0.01, target=0.01,
              why="0.01 nats/byte: the seed-to-seed noise floor of a single run at this scale",
              paper="final loss 1.821 vs 1.838 nats/token (−0.017)"),
        Claim(says="RMSNorm trains faster than LayerNorm", treatment="rmsnorm", baseline="layernorm",
              metric="step_time_s", direction="lower", target=0.05,
              why="5%: Narang et al.'s speed-up, relative, measured by the paired speed benchmark",
              paper="3.68 vs 3.50 steps/s (+5.1%)"),
    ),
)
