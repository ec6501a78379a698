"""MHA vs GQA vs MQA: fewer K/V heads, a smaller KV cache, at little loss.

Lecture claim: GQA matches MHA quality while MQA is slightly worse; both shrink the KV cache and speed
up decoding.
Source: Ainslie et al. 2023 (arXiv 2305.13245), T5-XXL: average score MHA 47.2, GQA-8 47.1, MQA 46.6;
inference 1.51 s (MHA) vs 0.28 s (GQA-8) vs 0.24 s (MQA) per sample. Shazeer 2019: MQA dev-ppl 30.2 vs
MHA 29.9.
Metrics and directions (treatment − baseline, paired by seed): final validation loss, GQA-2 (and GQA-2
with a wider MLP) within the equivalence margin (EQUIV) of MHA; MQA higher than MHA and than GQA-2. Every
run's summary records its KV-cache bytes at full context; the cache's size is config arithmetic (a table
column), not a claim.
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

ABLATION = Ablation(
    name="mqa_vs_gqa",
    headline="GQA matches MHA's loss with a fraction of the KV cache",
    source="Ainslie et al. 2023, arXiv 2305.13245; Shazeer 2019, arXiv 1911.02150",
    base=llama_style(n_heads=8),
    variants={
        "mha": dict(n_kv_heads=8), "gqa_4": dict(n_kv_heads=4), "gqa_2": dict(n_kv_heads=2), "mqa": dict(n_kv_heads=1),
        # Shazeer 2019: the K/V parameters GQA saves go to a wider MLP, so the comparison is at equal size too.
        "gqa_2_wide": dict(n_kv_heads=2, d_ff=448),
    },
    baseline="mha",
    first_seed=6,  # seeds 0–5 ran before the claims took this form (exploratory)
    group="attention",
    claims=(
        Claim(says="GQA-2 matches MHA's loss (GQA-2 has 11% fewer parameters)", treatment="gqa_2", baseline="mha",
              metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="average score 47.1 (GQA-8) vs 47.2 (MHA), T5-XXL"),
        Claim(says="GQA-2 with a wider MLP (MHA's parameter count) matches MHA's loss", treatment="gqa_2_wide",
              baseline="mha", metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="MQA dev-ppl 30.2 vs MHA 29.9 at equal parameters (Shazeer 2019)"),
        Claim(says="MQA is slightly worse than MHA", treatment="mqa", baseline="mha", metric="final_val_loss",
              direction="higher", target=LOSS_TARGET, why=LOSS_WHY,
              paper="average 46.6 vs 47.2 (Ainslie; MQA with fewer parameters, as here)"),
        Claim(says="MQA is worse than GQA-2", treatment="mqa", baseline="gqa_2", metric="final_val_loss",
              direction="higher", target=LOSS_TARGET, why=LOSS_WHY, paper="GQA-8 47.1 vs MQA 46.6 (Ainslie)"),
    ),
)
