"""Bias terms on vs off: the biases of the q/k/v, output and MLP projections and of LayerNorm.

Lecture claim: most modern models (PaLM, LLaMA, OLMo) drop bias terms: they cost nothing in loss, save
parameters and a little memory traffic per step, and make training more stable at scale.
Source: Chowdhery et al. 2022 (PaLM): "No biases were used in any of the dense kernels or layer norms … this
resulted in increased training stability for large models" (quoted by the lecture; no loss figure).
Metrics and directions (no biases − biases, paired by seed): final validation loss within the equivalence margin (EQUIV);
step time lower, judged by the paired speed benchmark (`ablate speed bias_terms`).
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, Ablation, Claim

ABLATION = Ablation(
    name="bias_terms",
    headline="dropping bias terms costs nothing in loss and saves parameters and step time",
    source="Chowdhery et al. 2022 (PaLM), as quoted in the lecture",
    base=dict(norm="layer", activation="gelu", pos="learned"),
    variants={
        "biases": dict(qkv_bias=True, linear_bias=True, norm_bias=True),
        "no_biases": dict(qkv_bias=False, linear_bias=False, norm_bias=False),
    },
    baseline="biases",
    first_seed=3,  # seeds 0–2 ran before the claims took this form (exploratory)
    claims=(
        Claim(says="dropping biases matches the loss with biases", treatment="no_biases", baseline="biases",
              metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="PaLM: no biases, more stable at scale (no loss figure)"),
        Claim(says="dropping biases shortens the training step", treatment="no_biases", baseline="biases",
              metric="step_time_s", direction="lower", target=0.02,
              why="2%: the biases' share of the step's memory traffic at the tiny shape, about 1% of parameters",
              paper="no figure"),
    ),
)
