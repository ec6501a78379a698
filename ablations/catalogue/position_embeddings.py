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
RoPE not higher than each other scheme by the one equivalence margin (EQUIV); validation loss at 4× the training context
over the positions past the training context alone (`val_loss_past_context_at_4x`; the whole window's
loss, in-range positions included, is in the tables), ALiBi lower than RoPE and than sinusoidal,
NoPE lower than RoPE. Learned positions cannot run past the context and record no extrapolation loss.

Sinusoidal scale. The table's entries have RMS 0.71 while our token embeddings start at RMS 0.02 (0.226 after the
√d multiply the first design used); position drowned the token (pilot means:
unscaled 2.35, tokens ×√d 1.85, learned 1.77, RoPE 1.67 nats/byte), a handicap of the variant, not the scheme.
Now the table is multiplied by 0.02·√2 (`sinusoid_scale`), which gives it the learned table's RMS, 0.02.
The table stays fixed while the token embeddings grow in training, so a diagnostic arm keeps the first
design (tokens ×√d, `sinusoidal_scaled_tokens`): if the two sinusoidal arms disagree, the RoPE-vs-sinusoidal
row is about the scale, not the scheme.
Checked at init (tiny preset, first training batch, mean of seeds 0–2; position RMS / token RMS, loss, logit std, grad
norm): rope –, 5.523, 0.252, 5.43; learned 1.00, 5.552, 0.246, 3.92; sinusoidal ×0.02·√2 1.00, 5.578, 0.237, 7.04;
tokens ×√d (diagnostic) 3.13, 5.567, 0.231, 2.16.
Vaswani's own convention (embeddings N(0, d^-0.5), ×√d, tied) starts at loss 9.0 here and was not taken.
The unscaled pilot's runs have another id and stay out; the diagnostic arm's seeds 0–2 are exploratory.
"""

from ablations.declare.spec import EQUIV, EQUIV_WHY, Ablation, Claim
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
        "sinusoidal": dict(pos="sinusoidal", sinusoid_scale=0.02 * 2**0.5),  # the learned table's RMS (see above)
        "sinusoidal_scaled_tokens": dict(pos="sinusoidal", scale_embeddings=True),  # the first design: a diagnostic
        "learned": dict(pos="learned"),
        "alibi": dict(pos="alibi"),
        "t5": dict(pos="t5"),
        "nope": dict(pos="none"),
    },
    baseline="rope",
    first_seed=3,  # seeds 0–2 ran before the claims took this form (exploratory)
    claims=(
        *(Claim(says=f"RoPE is at least as good as {other} at the training length", treatment="rope",
                baseline=other, metric="final_val_loss", direction="not_higher", margin=EQUIV, target=EQUIV,
                why=EQUIV_WHY, paper="RoPE is the default since 2023 (lecture)")
          for other in ("sinusoidal", "learned", "alibi", "t5", "nope")),
        Claim(says="at 4× the training context ALiBi beats RoPE", treatment="alibi", baseline="rope",
              metric="val_loss_past_context_at_4x", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="ALiBi flat past L, RoPE degrades (Press)"),
        Claim(says="at 4× the training context ALiBi beats sinusoidal", treatment="alibi", baseline="sinusoidal",
              metric="val_loss_past_context_at_4x", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="ALiBi flat past L, sinusoidal degrades (Press)"),
        Claim(says="at 4× the training context NoPE beats RoPE", treatment="nope", baseline="rope",
              metric="val_loss_past_context_at_4x", direction="lower", target=EXTRAPOLATION, why=EXTRAPOLATION_WHY,
              paper="NoPE extrapolates better than RoPE (Kazemnejad, unverified)"),
    ),
)
