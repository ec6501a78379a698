"""RMSNorm vs no norm at all (the CS336 assignment's `layer_norm_ablation`), over an LR sweep.

Lecture claim: norms make training stable: without them a pre-norm transformer is unstable at the LR that
is best with them (it diverges or ends at a higher loss) and trains only at a lower LR.
Source: CS336 assignment 1 (Spring 2025); student write-ups (weak evidence, unverified): without RMSNorm
most runs diverge at the best LR. No published loss figure.
Metrics and directions (no norm − RMSNorm, paired by seed): final validation loss higher at the two higher
LRs (a diverged no-norm run is an outcome, counted in the report, not a data point); at the lowest LR the
loss at most 0.05 nats/byte higher; LR sensitivity higher.
"""

from ablations.declare.spec import LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

HIGH_LRS = (3e-3, 1e-2)  # around the tiny preset's 2e-3 and above: where RMSNorm models train best
LOW_LRS = (1e-3,)

ABLATION = Ablation(
    name="normalisation",
    headline="without norms training is unstable at the LR best with them, and stable only at a lower LR",
    source="CS336 assignment 1 (2025), layer_norm_ablation; student write-ups (unverified)",
    group="stability",
    base=llama_style(varied=("norm",), norm_position="pre"),
    variants={"rmsnorm": dict(norm="rms"), "no_norm": dict(norm="none")},
    baseline="rmsnorm",
    claims=(
        Claim(says="at the higher LRs, no norm reaches higher loss than RMSNorm", treatment="no_norm",
              baseline="rmsnorm", metric="final_val_loss", direction="higher", target=LOSS_TARGET, why=LOSS_WHY,
              lrs=HIGH_LRS, paper="most no-norm runs diverge at the best LR (student write-ups, unverified)"),
        Claim(says="at a low LR, no norm trains to within 0.05 of RMSNorm", treatment="no_norm", baseline="rmsnorm",
              metric="final_val_loss", direction="not_higher", margin=0.05, target=0.05, lrs=LOW_LRS,
              why="0.05 nats/byte: 'trains', not 'matches'; 3× the loss target", paper="no figure"),
        Claim(says="no norm is more LR-sensitive than RMSNorm", treatment="no_norm", baseline="rmsnorm",
              metric="lr_sensitivity", direction="higher", target=0.05, why="0.05 nats/byte: 3× the loss target",
              paper="no figure"),
    ),
    lrs=(1e-3, 3e-3, 1e-2),
)
