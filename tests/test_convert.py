"""Logit parity with Hugging Face `transformers` for every family we map: tiny random models, built offline."""

import pytest
import torch

from models import Transformer
from models.convert import from_hf

transformers = pytest.importorskip("transformers", reason="transformers is a dev dependency: pip install -e '.[dev]'")

SMALL = dict(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64)
LLAMA_LIKE = dict(**SMALL, num_key_value_heads=2, intermediate_size=128)
HF_CONFIGS = {
    "gpt2": lambda: transformers.GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=64),
    "gpt_neox": lambda: transformers.GPTNeoXConfig(**SMALL, intermediate_size=128, rotary_pct=0.5),
    "bloom": lambda: transformers.BloomConfig(vocab_size=256, hidden_size=64, n_layer=2, n_head=4),
    "opt": lambda: transformers.OPTConfig(**SMALL, ffn_dim=128, word_embed_proj_dim=64),
    "llama": lambda: transformers.LlamaConfig(**LLAMA_LIKE),
    "mistral": lambda: transformers.MistralConfig(**LLAMA_LIKE, sliding_window=8),
    "qwen2": lambda: transformers.Qwen2Config(**LLAMA_LIKE),
    "gemma2": lambda: transformers.Gemma2Config(**LLAMA_LIKE, head_dim=32, sliding_window=8, query_pre_attn_scalar=24),
    "gemma3_text": lambda: transformers.Gemma3TextConfig(**{**LLAMA_LIKE, "num_hidden_layers": 3}, head_dim=32,
                                                         sliding_window=8, sliding_window_pattern=3),
    "olmo2": lambda: transformers.Olmo2Config(**LLAMA_LIKE),
    "cohere": lambda: transformers.CohereConfig(**LLAMA_LIKE, logit_scale=0.5),
    "falcon": lambda: transformers.FalconConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4),
    "phi3": lambda: transformers.Phi3Config(**LLAMA_LIKE, pad_token_id=0),
}
WINDOWED = {"mistral", "gemma2", "gemma3_text"}
TOLERANCE = 1e-4  # max abs logit difference, float32


def reference_and_ours(family: str):
    torch.manual_seed(0)
    hf_config = HF_CONFIGS[family]()
    reference = transformers.AutoModelForCausalLM.from_config(hf_config, attn_implementation="eager").eval()
    with torch.no_grad():  # larger than the default init so every weight moves the logits
        for p in reference.parameters():
            p.normal_(0, 0.2)
    config, state = from_hf(hf_config.to_dict(), reference.state_dict())
    ours = Transformer(config).eval()
    ours.load_state_dict(state, strict=True)
    return reference, ours


@pytest.mark.parametrize("family", sorted(HF_CONFIGS))
def test_logits_match_transformers(family):
    reference, ours = reference_and_ours(family)
    tokens = torch.randint(0, 256, (2, 24))  # longer than the sliding windows (8)
    with torch.no_grad():
        expected, got = reference(tokens).logits, ours(tokens)
    assert expected.abs().max() > 0.5  # logits are not trivially small
    diff = (got - expected).abs().max().item()
    print(f"parity {family}: max abs diff {diff:.2e}")
    assert diff <= TOLERANCE
    if family in WINDOWED:  # the window is exercised: without it the logits differ
        wide = Transformer(ours.config.replace(layer_pattern=("global",))).eval()
        wide.load_state_dict(ours.state_dict())
        with torch.no_grad():
            assert (wide(tokens) - expected).abs().max() > 100 * TOLERANCE


def test_unknown_family_names_the_supported_ones():
    with pytest.raises(ValueError, match="unsupported model_type 'mamba'; supported: gpt2, gpt_neox"):
        from_hf({"model_type": "mamba"}, {})
