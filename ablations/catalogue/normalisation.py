"""RMSNorm vs no norm at all (the CS336 assignment's `layer_norm_ablation`), over an LR sweep.

Lecture claim: norms make training stable: without them a pre-norm transformer is unstable at the LR that
is best with them (it diverges or ends at a higher loss) and trains only at a lower LR.
Source: CS336 assignment 1 (Spring 2025); student write-ups (weak evidence, unverified): without RMSNorm
most runs diverge at the best LR. No published loss figure.
Metrics and directions (no norm − RMSNorm, paired by seed): final validation loss higher and more loss
spikes at the two higher LRs (a diverged no-norm run is an outcome, counted in the report, not a data
point); at the lowest LR no more spikes than RMSNorm; LR sensitivity higher.

Initialisation (CS336's: untied head, token embeddings N(0, 1)). With the GPT-2 init this file first used
(tied 0.02-scale embeddings), removing the norms starved the residual stream: at step 1 no norm had logit
std 0.0056 and gradient norm 0.032 against RMSNorm's 0.25 and 5.0, sat at ln 256 for ~40 steps, then
spiked — instability from a vanishing start, not from the missing norm. Keeping only the final norm gave
0.28 / 1.6 (still starved). Checked at init (tiny preset, first training batch, mean of seeds 0–2): see
the `# init:` line below; the two arms now start alike. Runs of the old design are kept out of this table (their
design hash differs) and stay in results/ for reference.
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
    base=llama_style(varied=("norm",), norm_position="pre", tie_embeddings=False, embed_init_std=1.0),
    # init: logit std 0.225 vs 0.227, step-1 loss 5.569 vs 5.570, step-1 grad norm 1.02 vs 1.03 (rmsnorm vs no_norm)
    variants={"rmsnorm": dict(norm="rms"), "no_norm": dict(norm="none", final_norm=False)},
    baseline="rmsnorm",
    claims=(
        Claim(says="at the higher LRs, no norm reaches higher loss than RMSNorm", treatment="no_norm",
              baseline="rmsnorm", metric="final_val_loss", direction="higher", target=LOSS_TARGET, why=LOSS_WHY,
              lrs=HIGH_LRS, paper="most no-norm runs diverge at the best LR (student write-ups, unverified)"),
        Claim(says="at the higher LRs, no norm has more loss spikes", treatment="no_norm", baseline="rmsnorm",
              metric="loss_spikes", direction="higher", target=1.0, why="one more spike per run", lrs=HIGH_LRS,
              paper="unstable without norms (student write-ups, unverified)"),
        Claim(says="at a low LR, no norm trains as smoothly as RMSNorm", treatment="no_norm", baseline="rmsnorm",
              metric="loss_spikes", direction="not_higher", margin=1.0, target=1.0, why="one spike per run",
              lrs=LOW_LRS, paper="CS336: can a lower LR restore stability? (no figure)"),
        Claim(says="no norm is more LR-sensitive than RMSNorm", treatment="no_norm", baseline="rmsnorm",
              metric="lr_sensitivity", direction="higher", target=0.05, why="0.05 nats/byte: 3× the loss target",
              paper="no figure"),
    ),
    lrs=(1e-3, 3e-3, 1e-2),
)
