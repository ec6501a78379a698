import subprocess
import sys
from pathlib import Path

import pytest

from models import ModelConfig


@pytest.mark.parametrize(
    "field, value, allowed",
    [("norm", "batch", "layer, rms"), ("norm_position", "sandwich", "pre, post, double, post_block"),
     ("activation", "tanh", "relu, gelu, gelu_tanh, relu2, silu"), ("pos", "xpos", "sinusoidal, learned, rope, alibi, t5, none"),
     ("qk_norm", "l2", "layer, rms"), ("layer_pattern", ("global", "linear"), "global, local"),
     ("block", "hybrid", "serial, parallel, parallel_two_norms")],
)
def test_bad_axis_value_names_field_and_allowed_values(field, value, allowed):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field}=.*is not allowed; choose one of {allowed}"):
        ModelConfig(**{field: value})


def test_sizes_and_dependent_choices_are_validated_by_name():
    with pytest.raises(ValueError, match="ModelConfig.d_model=0"):
        ModelConfig(d_model=0)
    with pytest.raises(ValueError, match="n_heads=3 must divide d_model=128"):
        ModelConfig(n_heads=3)
    with pytest.raises(ValueError, match="n_kv_heads=3 must divide n_heads=4"):
        ModelConfig(n_kv_heads=3)
    with pytest.raises(ValueError, match="rotary_fraction"):
        ModelConfig(d_model=12, n_heads=4, pos="rope")
    with pytest.raises(ValueError, match="local layers: set sliding_window"):
        ModelConfig(layer_pattern=("local", "global"))
    with pytest.raises(ValueError, match="parallel_two_norms' is defined for norm_position='pre' only"):
        ModelConfig(block="parallel_two_norms", norm_position="post")
    with pytest.raises(ValueError, match="norm='none' removes every norm: set final_norm=False"):
        ModelConfig(norm="none")  # the config would claim a final norm the model does not build
    with pytest.raises(ValueError, match="embed_init_std and sinusoid_scale must be positive"):
        ModelConfig(embed_init_std=0.0)


def test_config_is_frozen_and_keyword_only():
    config = ModelConfig()
    with pytest.raises(AttributeError):
        config.d_model = 4
    with pytest.raises(TypeError):
        ModelConfig(256)


def test_replace_rejects_unknown_fields_listing_valid_ones():
    with pytest.raises(ValueError, match="unknown ModelConfig field.*nrom.*valid fields: vocab_size"):
        ModelConfig().replace(nrom="rms")


@pytest.mark.parametrize("d_model, gated, plain", [(128, 384, 512), (768, 2048, 3072), (4096, 10944, 16384)])
def test_default_ffn_widths_follow_the_rules_of_thumb(d_model, gated, plain):
    # 8/3·d rounded up to a multiple of 64 (LLaMA rounds to 256, giving its 11008 at d=4096).
    assert ModelConfig(d_model=d_model, n_heads=1, gated=True).effective_d_ff == gated
    assert ModelConfig(d_model=d_model, n_heads=1, gated=False).effective_d_ff == plain
    assert ModelConfig(d_model=d_model, n_heads=1, gated=True, d_ff=100).effective_d_ff == 100
    assert ModelConfig(d_model=d_model, n_heads=1, d_ff_ratio=2.0, d_ff_multiple=256).effective_d_ff == 2 * d_model


def test_gated_and_plain_defaults_match_parameters_within_one_percent():
    plain, gated = ModelConfig(d_model=768, n_heads=12), ModelConfig(d_model=768, n_heads=12, gated=True)
    assert 3 * gated.effective_d_ff == pytest.approx(2 * plain.effective_d_ff, rel=0.01)


def test_importing_models_for_the_config_and_accounting_loads_neither_torch_nor_the_model():
    code = ("import models, sys; from models import ModelConfig, total_params; "
            "print(sorted({'torch', 'models.transformer'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "[]"
