"""Hugging Face checkpoints → our ModelConfig and state dict, per family.

Works on plain dicts (a `config.json` and a state dict), so loading real weights needs no
`transformers` import. Each family documents the quirks the mapping absorbs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from models.config import ModelConfig

State = dict[str, torch.Tensor]


def _rope(hf: dict, layer_type: str | None = None) -> dict:
    params = hf.get("rope_parameters") or {}
    if layer_type is not None and layer_type in params:
        params = params[layer_type]
    return {"rope_theta": params.get("rope_theta", hf.get("rope_theta", 10_000.0)),
            "rotary_fraction": params.get("partial_rotary_factor", hf.get("partial_rotary_factor", 1.0))}


def _pattern(hf: dict) -> dict:
    types = hf.get("layer_types")
    if types and "sliding_attention" in types:
        return {"layer_pattern": tuple("local" if t == "sliding_attention" else "global" for t in types),
                "sliding_window": hf["sliding_window"]}
    if hf.get("sliding_window") and hf.get("use_sliding_window", True) and not types:
        return {"layer_pattern": ("local",), "sliding_window": hf["sliding_window"]}
    return {}


def _sizes(hf: dict) -> dict:
    heads = hf["num_attention_heads"]
    return dict(vocab_size=hf["vocab_size"], context=hf["max_position_embeddings"], d_model=hf["hidden_size"],
                n_layers=hf["num_hidden_layers"], n_heads=heads, n_kv_heads=hf.get("num_key_value_heads") or heads,
                head_dim=hf.get("head_dim") or hf["hidden_size"] // heads, d_ff=hf["intermediate_size"])


def _per_head_qkv(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """(heads·[q, k, v]) rows, as GPT-NeoX and BLOOM store them → [q; k; v]."""
    grouped = weight.reshape(heads, 3, -1, *weight.shape[1:])
    return torch.cat([grouped[:, i].reshape(-1, *weight.shape[1:]) for i in range(3)])


def _norm(out: State, ours: str, hf_state: State, theirs: str) -> None:
    out[f"{ours}.weight"] = hf_state[f"{theirs}.weight"]
    if f"{theirs}.bias" in hf_state:
        out[f"{ours}.bias"] = hf_state[f"{theirs}.bias"]


def _linear(out: State, ours: str, hf_state: State, theirs: str, transpose: bool = False) -> None:
    weight = hf_state[f"{theirs}.weight"]
    out[f"{ours}.weight"] = weight.T if transpose else weight
    if f"{theirs}.bias" in hf_state:
        out[f"{ours}.bias"] = hf_state[f"{theirs}.bias"]


def _embeddings_and_head(out: State, hf_state: State, config: ModelConfig, embed: str, final: str, head: str) -> State:
    out["tok_emb.weight"] = hf_state[embed]
    if config.final_norm:
        _norm(out, "final_norm", hf_state, final)
    out["head.weight"] = hf_state.get(head, hf_state[embed])
    return out


# --- GPT-2: Conv1D weights stored (in, out); learned positions; GeLU tanh ("gelu_new").
def _gpt2_config(hf: dict) -> ModelConfig:
    return ModelConfig(vocab_size=hf["vocab_size"], context=hf["n_positions"], d_model=hf["n_embd"], n_layers=hf["n_layer"],
                       n_heads=hf["n_head"], d_ff=hf.get("n_inner") or 4 * hf["n_embd"], activation="gelu_tanh",
                       norm_eps=hf["layer_norm_epsilon"], pos="learned", tie_embeddings=hf.get("tie_word_embeddings", True))


def _gpt2_state(config: ModelConfig, hf: State) -> State:
    out: State = {"pos_emb.weight": hf["transformer.wpe.weight"]}
    for i in range(config.n_layers):
        h, b = f"transformer.h.{i}", f"blocks.{i}"
        _norm(out, f"{b}.attn_branch.norm_in", hf, f"{h}.ln_1")
        _linear(out, f"{b}.attn.qkv", hf, f"{h}.attn.c_attn", transpose=True)
        _linear(out, f"{b}.attn.out", hf, f"{h}.attn.c_proj", transpose=True)
        _norm(out, f"{b}.mlp_branch.norm_in", hf, f"{h}.ln_2")
        _linear(out, f"{b}.mlp.w_in", hf, f"{h}.mlp.c_fc", transpose=True)
        _linear(out, f"{b}.mlp.w_out", hf, f"{h}.mlp.c_proj", transpose=True)
    return _embeddings_and_head(out, hf, config, "transformer.wte.weight", "transformer.ln_f", "lm_head.weight")


# --- GPT-NeoX / Pythia: parallel residual with two norms; per-head interleaved qkv; partial RoPE.
def _neox_config(hf: dict) -> ModelConfig:
    return ModelConfig(**_sizes(hf), **_rope(hf), pos="rope", activation="gelu", norm_eps=hf["layer_norm_eps"],
                       block="parallel_two_norms" if hf["use_parallel_residual"] else "serial",
                       qkv_bias=hf.get("attention_bias", True), tie_embeddings=hf.get("tie_word_embeddings", False))


def _neox_state(config: ModelConfig, hf: State) -> State:
    out: State = {}
    for i in range(config.n_layers):
        h, b = f"gpt_neox.layers.{i}", f"blocks.{i}"
        _norm(out, f"{b}.attn_branch.norm_in", hf, f"{h}.input_layernorm")
        _norm(out, f"{b}.mlp_branch.norm_in", hf, f"{h}.post_attention_layernorm")
        out[f"{b}.attn.qkv.weight"] = _per_head_qkv(hf[f"{h}.attention.query_key_value.weight"], config.n_heads)
        if config.qkv_bias:
            out[f"{b}.attn.qkv.bias"] = _per_head_qkv(hf[f"{h}.attention.query_key_value.bias"], config.n_heads)
        _linear(out, f"{b}.attn.out", hf, f"{h}.attention.dense")
        _linear(out, f"{b}.mlp.w_in", hf, f"{h}.mlp.dense_h_to_4h")
        _linear(out, f"{b}.mlp.w_out", hf, f"{h}.mlp.dense_4h_to_h")
    head = "embed_out.weight" if "embed_out.weight" in hf else "lm_head.weight"  # renamed across versions
    return _embeddings_and_head(out, hf, config, "gpt_neox.embed_in.weight", "gpt_neox.final_layer_norm", head)


# --- BLOOM: ALiBi; a LayerNorm right after the embedding; per-head interleaved qkv; GeLU tanh.
def _bloom_config(hf: dict) -> ModelConfig:
    d = hf["hidden_size"]
    return ModelConfig(vocab_size=hf["vocab_size"], context=hf.get("seq_length") or 2048, d_model=d, n_layers=hf["n_layer"],
                       n_heads=hf["n_head"], d_ff=4 * d, activation="gelu_tanh", pos="alibi", embed_norm=True,
                       norm_eps=hf["layer_norm_epsilon"], tie_embeddings=hf.get("tie_word_embeddings", True))


def _bloom_state(config: ModelConfig, hf: State) -> State:
    out: State = {}
    _norm(out, "embed_norm", hf, "transformer.word_embeddings_layernorm")
    for i in range(config.n_layers):
        h, b = f"transformer.h.{i}", f"blocks.{i}"
        _norm(out, f"{b}.attn_branch.norm_in", hf, f"{h}.input_layernorm")
        _norm(out, f"{b}.mlp_branch.norm_in", hf, f"{h}.post_attention_layernorm")
        out[f"{b}.attn.qkv.weight"] = _per_head_qkv(hf[f"{h}.self_attention.query_key_value.weight"], config.n_heads)
        out[f"{b}.attn.qkv.bias"] = _per_head_qkv(hf[f"{h}.self_attention.query_key_value.bias"], config.n_heads)
        _linear(out, f"{b}.attn.out", hf, f"{h}.self_attention.dense")
        _linear(out, f"{b}.mlp.w_in", hf, f"{h}.mlp.dense_h_to_4h")
        _linear(out, f"{b}.mlp.w_out", hf, f"{h}.mlp.dense_4h_to_h")
    return _embeddings_and_head(out, hf, config, "transformer.word_embeddings.weight", "transformer.ln_f", "lm_head.weight")


# --- OPT: learned positions stored with an offset of 2; ReLU; separate q, k, v.
def _opt_config(hf: dict) -> ModelConfig:
    if hf.get("word_embed_proj_dim", hf["hidden_size"]) != hf["hidden_size"]:
        raise ValueError("OPT with word_embed_proj_dim != hidden_size (OPT-350m's projections) is not supported")
    return ModelConfig(vocab_size=hf["vocab_size"], context=hf["max_position_embeddings"], d_model=hf["hidden_size"],
                       n_layers=hf["num_hidden_layers"], n_heads=hf["num_attention_heads"], d_ff=hf["ffn_dim"],
                       activation=hf["activation_function"], pos="learned",
                       norm_position="pre" if hf.get("do_layer_norm_before", True) else "post",
                       qkv_bias=hf.get("enable_bias", True), linear_bias=hf.get("enable_bias", True),
                       tie_embeddings=hf.get("tie_word_embeddings", True))


def _opt_state(config: ModelConfig, hf: State) -> State:
    p = "model.decoder"
    out: State = {"pos_emb.weight": hf[f"{p}.embed_positions.weight"][2 : 2 + config.context]}
    branch = "norm_in" if config.norm_position == "pre" else "norm_out"
    for i in range(config.n_layers):
        h, b = f"{p}.layers.{i}", f"blocks.{i}"
        out[f"{b}.attn.qkv.weight"] = torch.cat([hf[f"{h}.self_attn.{x}_proj.weight"] for x in "qkv"])
        if config.qkv_bias:
            out[f"{b}.attn.qkv.bias"] = torch.cat([hf[f"{h}.self_attn.{x}_proj.bias"] for x in "qkv"])
        _linear(out, f"{b}.attn.out", hf, f"{h}.self_attn.out_proj")
        _norm(out, f"{b}.attn_branch.{branch}", hf, f"{h}.self_attn_layer_norm")
        _linear(out, f"{b}.mlp.w_in", hf, f"{h}.fc1")
        _linear(out, f"{b}.mlp.w_out", hf, f"{h}.fc2")
        _norm(out, f"{b}.mlp_branch.{branch}", hf, f"{h}.final_layer_norm")
    return _embeddings_and_head(out, hf, config, f"{p}.embed_tokens.weight", f"{p}.final_layer_norm", "lm_head.weight")


# --- The LLaMA lineage: separate q, k, v and gate/up/down projections under model.layers.
# norms: which HF norm feeds which of ours, by where the family puts them.
_LLAMA_NORMS = {"input_layernorm": "attn_branch.norm_in", "post_attention_layernorm": "mlp_branch.norm_in"}
_GEMMA_NORMS = {"input_layernorm": "attn_branch.norm_in", "post_attention_layernorm": "attn_branch.norm_out",
                "pre_feedforward_layernorm": "mlp_branch.norm_in", "post_feedforward_layernorm": "mlp_branch.norm_out"}
_OLMO2_NORMS = {"post_attention_layernorm": "attn_branch.norm_out", "post_feedforward_layernorm": "mlp_branch.norm_out"}
_COHERE_NORMS = {"input_layernorm": "branch.norm_in"}


def _llama_like_config(hf: dict, **family) -> ModelConfig:
    return ModelConfig(**{**_sizes(hf), **_rope(hf), **_pattern(hf), "pos": "rope", "activation": "silu", "gated": True,
                          "norm": "rms", "norm_eps": hf.get("rms_norm_eps", 1e-6), "qkv_bias": hf.get("attention_bias", False),
                          "linear_bias": hf.get("mlp_bias", False), "tie_embeddings": hf.get("tie_word_embeddings", False),
                          **family})


def _llama_like_state(config: ModelConfig, hf: State, norms: dict[str, str]) -> State:
    out: State = {}
    fused = config.block == "parallel"
    for i in range(config.n_layers):
        h, b = f"model.layers.{i}", f"blocks.{i}"
        for theirs, ours in norms.items():
            _norm(out, f"{b}.{ours}", hf, f"{h}.{theirs}")
        if f"{h}.self_attn.qkv_proj.weight" in hf:  # Phi-3 stores them fused already
            qkv, gate_up = hf[f"{h}.self_attn.qkv_proj.weight"], hf[f"{h}.mlp.gate_up_proj.weight"]
        else:
            qkv = torch.cat([hf[f"{h}.self_attn.{x}_proj.weight"] for x in "qkv"])
            gate_up = torch.cat([hf[f"{h}.mlp.gate_proj.weight"], hf[f"{h}.mlp.up_proj.weight"]])
        if fused:
            out[f"{b}.in_proj.weight"] = torch.cat([qkv, gate_up])
        else:
            out[f"{b}.attn.qkv.weight"], out[f"{b}.mlp.w_in.weight"] = qkv, gate_up
        if config.qkv_bias:
            bias = torch.cat([hf[f"{h}.self_attn.{x}_proj.bias"] for x in "qkv"])
            out[f"{b}.qkv_bias" if fused else f"{b}.attn.qkv.bias"] = bias
        out[f"{b}.attn.out.weight"] = hf[f"{h}.self_attn.o_proj.weight"]
        out[f"{b}.mlp.w_out.weight"] = hf[f"{h}.mlp.down_proj.weight"]
        for x in "qk":
            if f"{h}.self_attn.{x}_norm.weight" in hf:
                out[f"{b}.attn.{x}_norm.weight"] = hf[f"{h}.self_attn.{x}_norm.weight"]
    return _embeddings_and_head(out, hf, config, "model.embed_tokens.weight", "model.norm", "lm_head.weight")


def _gemma_config(hf: dict, **family) -> ModelConfig:
    """Gemma 2/3: RMSNorm scaled by (1 + w) before and after each branch, embeddings × sqrt(d),
    GeGLU (tanh), attention scaled by query_pre_attn_scalar^-0.5, and local/global layers."""
    return _llama_like_config(hf, activation="gelu_tanh", norm_scale="offset", norm_position="double",
                              scale_embeddings=True, attn_scale=hf["query_pre_attn_scalar"] ** -0.5,
                              tie_embeddings=hf.get("tie_word_embeddings", True), **family)


def _gemma2_config(hf: dict) -> ModelConfig:
    return _gemma_config(hf, attn_softcap=hf.get("attn_logit_softcapping"), output_softcap=hf.get("final_logit_softcapping"))


def _gemma3_config(hf: dict) -> ModelConfig:
    local, full = _rope(hf, "sliding_attention")["rope_theta"], _rope(hf, "full_attention")["rope_theta"]
    return _gemma_config(hf, qk_norm="rms", rope_theta=full, local_rope_theta=local,
                         attn_softcap=hf.get("attn_logit_softcapping"), output_softcap=hf.get("final_logit_softcapping"))


def _cohere_config(hf: dict) -> ModelConfig:
    """Cohere Command R: parallel block with one LayerNorm (no bias), interleaved RoPE, scaled logits."""
    return _llama_like_config(hf, norm="layer", norm_bias=False, norm_eps=hf["layer_norm_eps"], block="parallel",
                              rope_layout="interleaved", logit_scale=hf["logit_scale"],
                              qk_norm="layer" if hf.get("use_qk_norm") else None,
                              tie_embeddings=hf.get("tie_word_embeddings", True))


# --- Falcon (7B layout): parallel attention and MLP on one LayerNorm; multi-query; no biases.
def _falcon_config(hf: dict) -> ModelConfig:
    if hf.get("new_decoder_architecture") or hf.get("alibi") or not hf.get("parallel_attn", True):
        raise ValueError("only the Falcon-7B layout (parallel attention, multi-query, RoPE) is supported")
    d = hf["hidden_size"]
    return ModelConfig(vocab_size=hf["vocab_size"], context=hf.get("max_position_embeddings", 2048), d_model=d,
                       n_layers=hf["num_hidden_layers"], n_heads=hf["num_attention_heads"],
                       n_kv_heads=1 if hf.get("multi_query", True) else None, d_ff=hf.get("ffn_hidden_size") or 4 * d,
                       **_rope(hf), pos="rope", block="parallel", norm_eps=hf["layer_norm_epsilon"],
                       qkv_bias=hf.get("bias", False), linear_bias=hf.get("bias", False),
                       tie_embeddings=hf.get("tie_word_embeddings", True))


def _falcon_state(config: ModelConfig, hf: State) -> State:
    out: State = {}
    for i in range(config.n_layers):
        h, b = f"transformer.h.{i}", f"blocks.{i}"
        _norm(out, f"{b}.branch.norm_in", hf, f"{h}.input_layernorm")
        qkv = hf[f"{h}.self_attention.query_key_value.weight"]  # [q; k; v] with one K and one V head
        out[f"{b}.in_proj.weight"] = torch.cat([qkv, hf[f"{h}.mlp.dense_h_to_4h.weight"]])
        out[f"{b}.attn.out.weight"] = hf[f"{h}.self_attention.dense.weight"]
        out[f"{b}.mlp.w_out.weight"] = hf[f"{h}.mlp.dense_4h_to_h.weight"]
    return _embeddings_and_head(out, hf, config, "transformer.word_embeddings.weight", "transformer.ln_f", "lm_head.weight")


Family = tuple[Callable[[dict], ModelConfig], Callable[[ModelConfig, State], State]]


def _llama_state_with(norms: dict[str, str]) -> Callable[[ModelConfig, State], State]:
    return lambda config, hf: _llama_like_state(config, hf, norms)


FAMILIES: dict[str, Family] = {
    "gpt2": (_gpt2_config, _gpt2_state),
    "gpt_neox": (_neox_config, _neox_state),
    "bloom": (_bloom_config, _bloom_state),
    "opt": (_opt_config, _opt_state),
    "llama": (_llama_like_config, _llama_state_with(_LLAMA_NORMS)),
    "mistral": (_llama_like_config, _llama_state_with(_LLAMA_NORMS)),
    "qwen2": (lambda hf: _llama_like_config(hf, qkv_bias=True), _llama_state_with(_LLAMA_NORMS)),
    "phi3": (_llama_like_config, _llama_state_with(_LLAMA_NORMS)),
    "olmo2": (lambda hf: _llama_like_config(hf, norm_position="post_block", qk_norm="rms", qk_norm_scope="all"),
              _llama_state_with(_OLMO2_NORMS)),
    "gemma2": (_gemma2_config, _llama_state_with(_GEMMA_NORMS)),
    "gemma3_text": (_gemma3_config, _llama_state_with(_GEMMA_NORMS)),
    "cohere": (_cohere_config, _llama_state_with(_COHERE_NORMS)),
    "falcon": (_falcon_config, _falcon_state),
}


def from_hf(hf_config: dict, hf_state: State) -> tuple[ModelConfig, State]:
    """A Hugging Face `config.json` (as a dict, its `model_type` naming the family) and state dict → ours."""
    family = hf_config.get("model_type")
    if family not in FAMILIES:
        raise ValueError(f"unsupported model_type {family!r}; supported: {', '.join(FAMILIES)}")
    to_config, to_state = FAMILIES[family]
    config = to_config(hf_config)
    return config, to_state(config, hf_state)
