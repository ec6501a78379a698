"""Vocabulary size: bytes (256) vs byte-level BPE vocabularies of 512, 2,048 and 8,192 tokens, trained on the
training split only (`tokenizers`), at equal training compute: each BPE variant trains for the steps that give
the bytes model's training FLOPs (its larger embedding and output head cost more per token), to the nearest
step. Compared in nats per byte of the validation split, each run's total nats over the bytes of exactly the
targets it scored: nats per token do not compare across tokenisers.

Lecture claim: bigger vocabularies pay off (monolingual models use 30–50k tokens; GPT-2/3 50,257, LLaMA
32,000; multilingual 100–256k): each token carries more bytes, so a model sees more text for the same compute
and attends over a longer span of it.
Source: the lecture's table of model configs (REFERENCES.md); no loss figure.
At the tiny preset the 8,192-token embedding (1.05M parameters) outweighs the blocks (0.85M), and 1.0M bytes of
training text is little to fit a large vocabulary on; a row that fails here may need the small preset.
Metric and direction (larger − smaller vocabulary, paired by seed): final validation loss in nats per byte lower.
"""

from ablations.declare.spec import LOSS_TARGET, LOSS_WHY, Ablation, Claim
from ablations.declare.variant import llama_style

AT_SCALE = ("the 30–50k vocabularies of large models need a larger model and corpus: at tiny the 8k embedding "
            "outweighs the blocks and 1.0M training bytes is little to fit it on")

ABLATION = Ablation(
    name="vocab_size",
    headline="larger vocabularies reach lower loss per byte at equal compute (30–50k tokens at scale)",
    source="the lecture's model-config table (GPT-2/3 50,257; LLaMA 32,000)",
    group="hyperparameters",
    base=llama_style(),
    variants={
        "bytes": dict(tokenizer="bytes"),
        "bpe_512": dict(tokenizer="bpe:512", equal_compute_with="bytes"),
        "bpe_2k": dict(tokenizer="bpe:2048", equal_compute_with="bytes"),
        "bpe_8k": dict(tokenizer="bpe:8192", equal_compute_with="bytes"),
    },
    baseline="bytes",
    claims=(
        Claim(says="BPE-512 reaches lower loss per byte than bytes", treatment="bpe_512", baseline="bytes",
              metric="final_val_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY,
              paper="no figure; every large model uses a BPE of 32k+ tokens", beyond_tiny=AT_SCALE),
        Claim(says="BPE-2k reaches lower loss per byte than BPE-512", treatment="bpe_2k", baseline="bpe_512",
              metric="final_val_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY, paper="no figure",
              beyond_tiny=AT_SCALE),
        Claim(says="BPE-8k reaches lower loss per byte than BPE-2k", treatment="bpe_8k", baseline="bpe_2k",
              metric="final_val_loss", direction="lower", target=LOSS_TARGET, why=LOSS_WHY, paper="no figure",
              beyond_tiny=AT_SCALE),
    ),
)
