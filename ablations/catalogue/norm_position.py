"""Where the norm goes: pre vs post vs double (Gemma 2) vs post-block (OLMo 2), with and without warm-up.

Lecture claim: pre-norm (and the double / post-block norms, which keep an identity residual path)
trains stably without LR warm-up and tolerates higher LRs; post-norm needs warm-up.
Source: Xiong et al. 2020 (arXiv 2002.04745): at initialisation post-norm's per-layer gradient norms
grow toward the output (FFN W1, layers 1→6: 0.06 → 1.3) while pre-norm's stay flat near 0.2; post-norm
needs warm-up, pre-norm trains without it. Salazar & Nguyen 2019 likewise for pre-norm.

Metrics and directions (treatment − baseline, paired by seed), judged at 1e-3, the one LR where post-norm
trains: the lecture's pair, pre-norm without warm-up vs post-norm with it, final validation loss not higher
(EQUIV); warm-up lowers post-norm's loss, more than pre-norm's; pre-norm without warm-up not higher than
with it (every LR); double and post-block norm without warm-up lower than post-norm. Over the LR sweep
(1e-3, 3e-3, 1e-2): LR sensitivity lower for pre, double and post-block norm than post-norm without
warm-up, and for pre-norm without warm-up than post-norm with it. The per-layer gradient norms at step 1
are in every run's metrics (`grad_norm_layer`), for the profile at initialisation and during training.

Checked at init (tiny preset, first training batch, mean of seeds 0–2), step-1 gradient norms: post-block 13.8, double
11.3, pre 4.2, post 1.3. Post-block's output norm starts eps-dominated (a branch's output RMS ~5e-4 is
below sqrt(norm_eps)): at first it divides by ~sqrt(eps), not by the branch's RMS, so each branch joins the
stream at RMS ~0.15 rather than 1. That is the architecture as OLMo 2 declares it, left unchanged.
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, LOSS_TARGET, LOSS_WHY, Ablation, Claim

WARMUP = dict(warmup_fraction=0.1)  # 200 of the tiny preset's 2,000 steps: long enough to matter
TRAINS_LR = (1e-3,)  # the LR where post-norm trains at all
SWEEP_WHY = "0.05 nats/byte: 3× the loss target"

ABLATION = Ablation(
    name="norm_position",
    headline="post-norm needs warm-up; pre-norm (and double, post-block norms) train without it",
    source="Xiong et al. 2020, arXiv 2002.04745",
    base=dict(norm="layer", activation="gelu", pos="learned", qkv_bias=False, linear_bias=False, norm_bias=False),
    variants={
        "pre": dict(norm_position="pre", **WARMUP),
        "post": dict(norm_position="post", final_norm=False, **WARMUP),
        "pre_no_warmup": dict(norm_position="pre", warmup_steps=0),
        "post_no_warmup": dict(norm_position="post", final_norm=False, warmup_steps=0),
        "double_no_warmup": dict(norm_position="double", warmup_steps=0),
        "post_block_no_warmup": dict(norm_position="post_block", warmup_steps=0),
    },
    baseline="post_no_warmup",
    first_seed=6,  # seeds 0–5 ran before the claims took this form (exploratory)
    claims=(
        Claim(says="pre-norm without warm-up is at least as good as post-norm with warm-up", treatment="pre_no_warmup",
              baseline="post", metric="final_val_loss", direction="not_higher", margin=EQUIV, target=EQUIV,
              why=EQUIV_WHY, lrs=TRAINS_LR, paper="Pre-LN without warm-up vs Post-LN with warm-up (Xiong)"),
        Claim(says="post-norm needs warm-up: warm-up lowers its loss", treatment="post", baseline="post_no_warmup",
              metric="final_val_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY, lrs=TRAINS_LR,
              paper="post-LN needs warm-up (Xiong)"),
        Claim(says="pre-norm does not need warm-up", treatment="pre_no_warmup", baseline="pre", metric="final_val_loss",
              direction="not_higher", margin=EQUIV, target=EQUIV, why=EQUIV_WHY,
              paper="pre-LN trains without warm-up (Xiong; Salazar & Nguyen)"),
        Claim(says="warm-up helps post-norm more than pre-norm", treatment="post", baseline="post_no_warmup",
              minus=("pre", "pre_no_warmup"), metric="final_val_loss", direction="lower", target=LOSS_TARGET,
              why=LOSS_WHY, lrs=TRAINS_LR, paper="post-LN needs warm-up, pre-LN trains without (Xiong)"),
        Claim(says="without warm-up, double norm reaches lower loss than post-norm", treatment="double_no_warmup",
              baseline="post_no_warmup", metric="final_val_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY,
              lrs=TRAINS_LR, paper="Gemma 2: norm before and after each sublayer"),
        Claim(says="without warm-up, post-block norm reaches lower loss than post-norm",
              treatment="post_block_no_warmup", baseline="post_no_warmup", metric="final_val_loss", direction="lower",
              target=LOSS_TARGET, why=LOSS_WHY, lrs=TRAINS_LR, paper="OLMo 2: norm on each sublayer's output"),
        Claim(says="without warm-up, pre-norm is less LR-sensitive than post-norm", treatment="pre_no_warmup",
              baseline="post_no_warmup", metric="lr_sensitivity", direction="lower", target=0.05, why=SWEEP_WHY,
              paper="pre-LN tolerates higher LRs without warm-up (Xiong)"),
        Claim(says="pre-norm without warm-up is less LR-sensitive than post-norm with warm-up",
              treatment="pre_no_warmup", baseline="post", metric="lr_sensitivity", direction="lower", target=0.05,
              why=SWEEP_WHY, paper="pre-LN tolerates higher LRs without warm-up (Xiong)"),
        Claim(says="without warm-up, double norm is less LR-sensitive than post-norm", treatment="double_no_warmup",
              baseline="post_no_warmup", metric="lr_sensitivity", direction="lower", target=0.05, why=SWEEP_WHY,
              paper="Gemma 2"),
        Claim(says="without warm-up, post-block norm is less LR-sensitive than post-norm",
              treatment="post_block_no_warmup", baseline="post_no_warmup", metric="lr_sensitivity", direction="lower",
              target=0.05, why=SWEEP_WHY, paper="OLMo 2"),
    ),
    lrs=(1e-3, 3e-3, 1e-2),
)
