"""Head width: head_dim · n_heads / d_model ∈ {0.5, 1, 2}, at the preset's d_model and number of heads.

Lecture claim: a ratio of 1 is standard (most models); T5 (16), LaMDA (2) and PaLM (1.48) depart from it
without visible harm: weak sensitivity.
Source: the lecture's table of model configs (REFERENCES.md, hyperparameter consensus).
Metric and direction: final validation loss within the one equivalence margin (EQUIV, first 0.03) of the ratio-1
model's, paired by seed.
The attention projections' parameters scale with the ratio; the tables show them.
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

ABLATION = Ablation(
    name="head_dim",
    headline="head_dim · n_heads = d_model is standard; the loss is weakly sensitive to the ratio",
    source="the lecture's model-config table (T5 16, LaMDA 2, PaLM 1.48, most models 1)",
    group="hyperparameters",
    base=llama_style(),
    variants={
        "ratio_0.5": dict(head_ratio=0.5),
        "ratio_1": dict(head_ratio=1.0),
        "ratio_2": dict(head_ratio=2.0),
    },
    baseline="ratio_1",
    first_seed=3,  # seeds 0–2 ran before the claims took this form (exploratory)
    claims=(
        Claim(says="a head ratio of 0.5 matches 1", treatment="ratio_0.5", baseline="ratio_1", metric="final_val_loss",
              direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY, paper="no loss figure; configs only"),
        Claim(says="a head ratio of 2 matches 1", treatment="ratio_2", baseline="ratio_1", metric="final_val_loss",
              direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY, paper="LaMDA uses 2"),
    ),
)
