"""Depth vs width at a fixed budget: d_model / n_layers swept by depth, each width solved from the preset's
non-embedding parameter count (`layers_at_budget`; head_dim fixed at 16, so the width moves in steps of 16).
At the tiny preset (803,968 non-embedding parameters): 1×256, 2×176, 4×128, 8×96, 16×64, aspect ratios
256, 88, 32, 12 and 4; the solver's nearest width leaves the 2-layer model 6.0% under budget and the
8-layer one 10.2% over (the tables show each model's parameters).

Lecture claim: a wide basin; 100–200 is good at scale (BLOOM 205, T5 v1.1 171, PaLM 156, GPT-3 128,
LLaMA 102). Source: Kaplan et al. 2020 (arXiv 2001.08361) via the lecture: at a fixed parameter count the
loss changes by only a few percent over a wide range of shapes. The tiny budget cannot reach aspect 100–200
with more than two layers, so these claims test the basin, not its location at scale.
Metric and direction: final validation loss, paired by seed: within the one equivalence margin (EQUIV, first ±0.03) of the
4-layer model for its neighbours in depth; the 1-layer model higher (one layer cannot compose attention).
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

AT_SCALE = ("where the basin lies (aspect 100–200) needs a budget that fits many layers at that width; "
            "at tiny only 2 layers come near (88)")

ABLATION = Ablation(
    name="aspect_ratio",
    headline="a wide basin of d_model / n_layers at a fixed parameter budget (100–200 at scale)",
    source="Kaplan et al. 2020, arXiv 2001.08361 (via the lecture); model configs in the lecture's table",
    group="hyperparameters",
    base=llama_style(head_dim=16, d_ff_multiple=16),
    variants={f"depth_{n}": dict(layers_at_budget=n) for n in (1, 2, 4, 8, 16)},
    baseline="depth_4",
    first_seed=3,  # seeds 0–2 ran before the claims took this form (exploratory)
    claims=(
        Claim(says="2 layers (aspect 88 at tiny) match 4 (aspect 32)", treatment="depth_2", baseline="depth_4",
              metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="a few percent over a wide range of shapes (Kaplan)", beyond_tiny=AT_SCALE),
        Claim(says="8 layers (aspect 12 at tiny) match 4 (aspect 32)", treatment="depth_8", baseline="depth_4",
              metric="final_val_loss", direction="matches", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="a few percent over a wide range of shapes (Kaplan)", beyond_tiny=AT_SCALE),
        Claim(says="1 layer (aspect 256 at tiny) is worse than 4", treatment="depth_1", baseline="depth_4",
              metric="final_val_loss", direction="higher", target=LOSS_TARGET, why=LOSS_WHY,
              paper="the basin has edges: very shallow models lose (Kaplan)", beyond_tiny=AT_SCALE),
    ),
)
