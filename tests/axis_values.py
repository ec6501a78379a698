"""Tiny model configs shared by the model tests: every value of every axis, each as an override of one base."""

from models import ModelConfig

BASE = dict(d_model=32, n_layers=2, n_heads=4, context=16)
# Every value of every axis, each as an override of the base; then combinations the named families use.
AXIS_VALUES = [
    dict(norm="rms"), dict(norm="none", final_norm=False), dict(norm_scale="offset", norm="rms"), dict(norm_scale="none"),
    dict(norm_bias=False),
    dict(norm_position="post", final_norm=False), dict(norm_position="double"), dict(norm_position="post_block"),
    dict(embed_norm=True), dict(activation="relu"), dict(activation="gelu_tanh"), dict(activation="relu2"),
    dict(activation="silu"), dict(activation="relu", gated=True), dict(activation="gelu", gated=True),
    dict(activation="silu", gated=True), dict(d_ff=48), dict(qkv_bias=False, linear_bias=False),
    dict(block="parallel"), dict(block="parallel", qkv_bias=False), dict(block="parallel_two_norms"),
    dict(pos="sinusoidal"), dict(pos="rope"), dict(pos="rope", rotary_fraction=0.5), dict(pos="rope", rope_layout="interleaved"),
    dict(pos="alibi"), dict(pos="t5"), dict(pos="none"), dict(n_kv_heads=2), dict(n_kv_heads=1), dict(head_dim=16),
    dict(qk_norm="rms"), dict(qk_norm="layer", qk_norm_scope="all"), dict(attn_softcap=5.0), dict(attn_scale=0.1),
    dict(sliding_window=4, layer_pattern=("local",)),
    dict(sliding_window=4, layer_pattern=("local", "global"), pos="rope", global_pos="none", local_rope_theta=100.0),
    dict(tie_embeddings=False), dict(scale_embeddings=True), dict(logit_scale=0.5), dict(output_softcap=3.0),
    dict(z_loss=1e-4), dict(attn_dropout=0.1, resid_dropout=0.1),
    dict(mlp_init="fan_in"), dict(mlp_init="fan_in", block="parallel"), dict(pos="sinusoidal", sinusoid_scale=0.02),
    dict(embed_init_std=1.0, tie_embeddings=False),
    dict(block="parallel", n_kv_heads=1, pos="rope", norm="rms", gated=True, activation="silu", sliding_window=5,
         layer_pattern=("local", "local", "global"), attn_softcap=8.0, qk_norm="rms", n_layers=3),
]
IDS = ["-".join(f"{k}={v}" for k, v in axes.items()) for axes in AXIS_VALUES]


def small(**axes) -> ModelConfig:
    return ModelConfig(**{**BASE, **axes})
