"""MHA vs GQA vs MQA: fewer K/V heads, a smaller KV cache, at little loss.

Lecture claim: GQA matches MHA quality while MQA is slightly worse; both shrink the KV cache and speed
up decoding.
Source: Ainslie et al. 2023 (arXiv 2305.13245), T5-XXL: average score MHA 47.2, GQA-8 47.1, MQA 46.6;
inference 1.51 s (MHA) vs 0.28 s (GQA-8) vs 0.24 s (MQA) per sample. Shazeer 2019: MQA dev-ppl 30.2 vs
MHA 29.9.
Metric and direction (GQA with 2 K/V heads − MHA, paired by seed): final validation loss not higher by
more than 0.01 nats. Every run's summary records its KV-cache bytes at full context.
"""

from ablations.spec import Ablation, Expectation

ABLATION = Ablation(
    name="mqa_vs_gqa",
    claim="GQA matches MHA's loss with a fraction of the KV cache",
    source="Ainslie et al. 2023, arXiv 2305.13245; Shazeer 2019, arXiv 1911.02150",
    base=dict(norm="rms", activation="silu", gated=True, pos="rope", qkv_bias=False, linear_bias=False, n_heads=8),
    variants={"mha": dict(n_kv_heads=8), "gqa_4": dict(n_kv_heads=4), "gqa_2": dict(n_kv_heads=2), "mqa": dict(n_kv_heads=1)},
    baseline="mha",
    treatment="gqa_2",
    expectations=(Expectation(metric="final_val_loss", direction="not_higher", margin=0.01),),
    paper={"final_val_loss": "score 47.1 (GQA-8) vs 47.2 (MHA), MQA 46.6"},
)
