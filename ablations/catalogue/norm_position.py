"""Where the norm goes: pre vs post vs double (Gemma 2) vs post-block (OLMo 2), with and without warm-up.

Lecture claim: pre-norm (and the double / post-block norms, which keep an identity residual path)
trains stably without LR warm-up and tolerates higher LRs; post-norm needs warm-up.
Source: Xiong et al. 2020 (arXiv 2002.04745): at initialisation post-norm's per-layer gradient norms
grow toward the output (FFN W1, layers 1→6: 0.06 → 1.3) while pre-norm's stay flat near 0.2; post-norm
needs warm-up, pre-norm trains without it. Salazar & Nguyen 2019 likewise for pre-norm.
Metric and direction (pre without warm-up − post without warm-up, paired by seed, per LR): final
validation loss lower. The per-layer gradient norms at step 1 are in every run's metrics
(`grad_norm_layer`), for the profile at initialisation and during training.
"""

from ablations.spec import Ablation, Expectation

_POSITIONS = {"pre": {}, "post": {"final_norm": False}, "double": {}, "post_block": {}}

ABLATION = Ablation(
    name="norm_position",
    claim="pre-norm trains without warm-up where post-norm does not",
    source="Xiong et al. 2020, arXiv 2002.04745",
    base=dict(norm="layer", activation="gelu", pos="learned", qkv_bias=False, linear_bias=False, norm_bias=False),
    variants={
        **{name: {"norm_position": name, **extra} for name, extra in _POSITIONS.items()},
        **{f"{name}_no_warmup": {"norm_position": name, "warmup_steps": 0, **extra} for name, extra in _POSITIONS.items()},
    },
    baseline="post_no_warmup",
    treatment="pre_no_warmup",
    expectations=(
        Expectation(metric="final_val_loss", direction="lower"),
        Expectation(metric="lr_sensitivity", direction="lower"),
    ),
    lrs=(1e-3, 3e-3, 1e-2),
    paper={"lr_sensitivity": "pre-LN trains without warm-up; post-LN does not (Xiong et al.)",
           "final_val_loss": "post-LN needs warm-up; pre-LN trains without (grad norms 0.06→1.3 vs ~0.2)"},
)
