"""Position schemes: sinusoidal, learned, ALiBi, T5 relative bias, RoPE and none (NoPE), at the training
length and past it.

Lecture claim: RoPE (used by nearly every model since 2023) is at least as good as the others at the
training length; how a scheme behaves past the training context differs: ALiBi extrapolates, sinusoidal and
RoPE degrade; NoPE (causal attention alone) can extrapolate too.
Sources: Su et al. 2021 (RoPE, arXiv 2104.09864); Press et al. 2022 (ALiBi, arXiv 2108.12409): trained at
L, ALiBi keeps perplexity flat at 2L and beyond while sinusoidal and RoPE degrade; Kazemnejad et al. 2023
(NoPE, arXiv 2305.19466): NoPE extrapolates better than RoPE in their small-scale decoder tasks (their
numbers: unverified).
Metrics and directions (treatment − baseline, paired by seed): final validation loss at the training length,
RoPE not higher than each other scheme by 0.015 nats/byte; validation loss at 4× the training context
(`val_loss_at_4x_context`, every position of the longer windows), ALiBi lower than RoPE and than sinusoidal,
NoPE lower than RoPE. Learned positions cannot run past the context and record no extrapolation loss.
"""

from ablations.declare.spec import LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

EXTRAPOLATION = 0.05
EXTRAPOLATION_WHY = "0.05 nats/byte ≈ 3% of the loss: Press et al.'s degradation past L is larger than that"

ABLATION = Ablation(
    name="position_embeddings",
    headline="RoPE is at least as good as the others at the training length; ALiBi extrapolates past it",
    source="Su et al. 2021; Press et al. 2022, arXiv 2108.12409; Kazemnejad et al. 2023, arXiv 2305.19466",
    base=llama_style(varied=("pos",)),
    variants={
        "rope": dict(pos="rope"),
        # Vaswani et al. multiply the token embeddings by sqrt(d_model) before adding the sinusoids; without it the
        # table's unit-scale values drown 0.02-scale token embeddings (the first pilot, unscaled: 2.35 nats/byte).
        "sinusoidal": dict(pos="sinusoidal", scale_embeddings=True),
        "learned": dict(pos="learned"),
        "alibi": dict(pos="alibi"),
        "t5": dict(pos="t5"),
        "nope": dict(pos="none"),
    },
    baseline="rope",
    claims=(
        *(Claim(says=f"RoPE is at least as good as {other} at the training length", treatment="rope",
                baseline=other, metric="final_val_loss", direction="not_higher", margin=LOSS_TARGET, target=LOSS_TARGET,
                why=LOSS_WHY, paper="RoPE is the default since 2023 (lecture)")
          for other in ("sinusoidal", "learned", "alibi", "t5", "nope")),
        Claim(says="at 4× the training context ALiBi beats RoPE", treatment="alibi", baseline="rope",
              metric="val_loss_at_4x_context", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="ALiBi flat past L, RoPE degrades (Press)"),
        Claim(says="at 4× the training context ALiBi beats sinusoidal", treatment="alibi", baseline="sinusoidal",
              metric="val_loss_at_4x_context", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="ALiBi flat past L, sinusoidal degrades (Press)"),
        Claim(says="at 4× the training context NoPE beats RoPE", treatment="nope", baseline="rope",
              metric="val_loss_at_4x_context", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="NoPE extrapolates better than RoPE (Kazemnejad, unverified)"),
    ),
)
