"""The MLP's width: d_ff / d_model ∈ {1, 2, 8/3, 4, 8} for plain (GeLU) and gated (SwiGLU) MLPs at a fixed d_model.

Lecture claim: a wide basin around 1–4; 4 is the consensus for plain MLPs and about 8/3 for GLUs
(LLaMA 70B 2.68, Qwen 14B 2.67, PaLM 4, T5 v1.1 2.5; T5 11B's 64 is the outlier).
Source: Kaplan et al. 2020 (arXiv 2001.08361) via the lecture: about +1.8% loss at a ratio of 8 vs 4.
Kaplan's basin is at a fixed total parameter count; this grid holds d_model fixed, so the parameters grow
with the ratio (the tables show them). Within the basin, the claims say, that growth buys little.
Metric and direction: final validation loss within the one equivalence margin (EQUIV) of the consensus
ratio's, paired by seed; for SwiGLU, 8/3 not higher than 4 by more than EQUIV (4 holds 50% more MLP
parameters). The lecture's 8/3 is parameter matching against a 4× plain MLP: that claim is judged in
`activations`. The basin margin was first 0.03 (Kaplan's +1.8%); one margin for every equivalence now,
which is stricter than Kaplan's basin. The MLP input matrices start fan-in (`mlp_init`), as in
`activations`: at 0.02 GeLU and SiLU sit where they are nearly linear, which could flatten the basin.
Checked at init (tiny preset, first training batch, mean of seeds 0–2; loss, logit std, gradient norm):
gelu_4 5.611, 0.225, 6.92; swiglu_2.67 5.560, 0.224, 5.88 (the same models as activations' gelu and swiglu).
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, Ablation, Claim
from ablations.declare.variant import llama_style


def _grid(activation: str, gated: bool, prefix: str) -> dict[str, dict[str, object]]:
    ratios = {"1": 1.0, "2": 2.0, "2.67": 8 / 3, "4": 4.0, "8": 8.0}
    return {f"{prefix}_{name}": dict(activation=activation, gated=gated, d_ff_ratio=r) for name, r in ratios.items()}


ABLATION = Ablation(
    name="ffn_ratio",
    headline="a wide basin of d_ff/d_model around 1–4: 4 for plain MLPs, 8/3 for GLUs",
    source="Kaplan et al. 2020, arXiv 2001.08361 (via the lecture); model configs in the lecture's table",
    group="hyperparameters",
    base=llama_style(varied=("activation", "gated"), d_ff_multiple=1, mlp_init="fan_in"),
    variants={**_grid("gelu", False, "gelu"), **_grid("silu", True, "swiglu")},
    baseline="gelu_4",
    claims=(
        Claim(says="plain MLP: a ratio of 2 matches 4", treatment="gelu_2", baseline="gelu_4", metric="final_val_loss",
              direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY, paper="a basin around 1–4 (Kaplan)"),
        Claim(says="plain MLP: a ratio of 8 matches 4", treatment="gelu_8", baseline="gelu_4", metric="final_val_loss",
              direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="about +1.8% loss at 8 vs 4, fixed parameters (Kaplan)"),
        Claim(says="SwiGLU: 8/3 costs at most the margin against 4 (4 has +50% MLP parameters)",
              treatment="swiglu_2.67", baseline="swiglu_4", metric="final_val_loss", direction="not_higher",
              margin=EQUIV, target=EQUIV, why=EQUIV_WHY, paper="LLaMA 2.68, Qwen 2.67, PaLM 4"),
        Claim(says="SwiGLU: a ratio of 2 matches 8/3", treatment="swiglu_2", baseline="swiglu_2.67",
              metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="T5 v1.1 2.5"),
    ),
)
