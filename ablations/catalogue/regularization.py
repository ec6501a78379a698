"""Dropout {0, 0.1} × weight decay {0, 0.1} (decoupled AdamW decay on matrices only).

Lecture claim: in single-pass pre-training dropout is unnecessary (LLaMA: 0; GPT-3: 0.1) and weight decay
(0.1 almost everywhere) is kept not against over-fitting but for the optimisation: with a cosine schedule it
lowers the training loss reached at the end of the schedule.
Sources: model configs in the lecture's table (Transformer 0.1 / 0, GPT-3 0.1 / 0.1, LLaMA 0 / 0.1);
Andriushchenko et al. 2023 (arXiv 2310.04415, via the lecture; its figures are not in our references:
unverified).
Where Tiny Shakespeare changes the picture: the tiny preset reads ~1.5M tokens of a 1.0M-token training
split, about 1.5 epochs, so a little memorisation is possible and dropout is not quite in its single-pass
regime; the train − val gap in the tables shows how much.
Metrics and directions (paired by seed): weight decay 0.1 − 0, without dropout: training loss over the last
10% of steps lower; dropout 0 − 0.1, with weight decay: final validation loss not higher by the equivalence margin (EQUIV).
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

ABLATION = Ablation(
    name="regularization",
    headline="weight decay helps optimisation (lower end-of-schedule training loss); dropout is unnecessary",
    source="Andriushchenko et al. 2023, arXiv 2310.04415 (via the lecture, unverified); the lecture's config table",
    group="hyperparameters",
    base=llama_style(),
    variants={
        "wd0_drop0": dict(weight_decay=0.0),
        "wd0.1_drop0": dict(weight_decay=0.1),
        "wd0_drop0.1": dict(weight_decay=0.0, attn_dropout=0.1, resid_dropout=0.1),
        "wd0.1_drop0.1": dict(weight_decay=0.1, attn_dropout=0.1, resid_dropout=0.1),
    },
    baseline="wd0.1_drop0",
    first_seed=3,  # seeds 0–2 ran before the claims took this form (exploratory)
    claims=(
        Claim(says="weight decay lowers the training loss at the end of the schedule", treatment="wd0.1_drop0",
              baseline="wd0_drop0", metric="end_train_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY,
              paper="weight decay's benefit shows as lower training loss late in the schedule (unverified)"),
        Claim(says="without dropout the loss is no worse", treatment="wd0.1_drop0", baseline="wd0.1_drop0.1",
              metric="final_val_loss", direction="not_higher", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="LLaMA trains without dropout; GPT-3 with 0.1",
              beyond_tiny="single-pass pre-training: the tiny preset reads Tiny Shakespeare about 1.5 times, "
                          "so this is dropout on a small repeated corpus; a corpus larger than the tokens read settles it"),
    ),
)
