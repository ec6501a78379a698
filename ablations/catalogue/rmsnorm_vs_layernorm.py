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

from ablations.spec import Ablation, Expectation

ABLATION = Ablation(
    name="rmsnorm_vs_layernorm",
    claim="RMSNorm is faster than LayerNorm and matches or beats its loss",
    source="Narang et al. 2021, arXiv 2102.11972, Table 1",
    base=dict(norm_position="pre", activation="gelu", gated=False, pos="learned", qkv_bias=False, linear_bias=False,
              norm_bias=False),
    variants={"layernorm": dict(norm="layer"), "rmsnorm": dict(norm="rms")},
    baseline="layernorm",
    treatment="rmsnorm",
    expectations=(
        Expectation(metric="tokens_per_s", direction="higher"),
        Expectation(metric="final_val_loss", direction="not_higher", margin=0.01),
    ),
    seeds=3,
    paper={"tokens_per_s": "3.68 vs 3.50 steps/s (+5.1%)", "final_val_loss": "1.821 vs 1.838 (−0.017)"},
)
