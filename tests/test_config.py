import pytest

from models import ModelConfig


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("norm", "batch", "layer, rms"),
        ("norm_position", "sandwich", "pre, post"),
        ("mlp", "relu", "gelu, swiglu"),
        ("pos", "alibi", "learned, rope"),
    ],
)
def test_bad_axis_value_names_field_and_allowed_values(field, value, allowed):
    with pytest.raises(ValueError, match=rf"ModelConfig\.{field}='{value}'.*choose one of {allowed}"):
        ModelConfig(**{field: value})


def test_sizes_are_validated_by_name():
    with pytest.raises(ValueError, match="ModelConfig.d_model=0"):
        ModelConfig(d_model=0)
    with pytest.raises(ValueError, match="n_heads=3 must divide d_model=128"):
        ModelConfig(n_heads=3)
    with pytest.raises(ValueError, match="pos='rope' needs an even head dim"):
        ModelConfig(d_model=12, n_heads=4, pos="rope")


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
    assert ModelConfig(d_model=d_model, n_heads=1, mlp="swiglu").ffn_dim == gated
    assert ModelConfig(d_model=d_model, n_heads=1, mlp="gelu").ffn_dim == plain
    assert ModelConfig(d_model=d_model, n_heads=1, mlp="swiglu", d_ff=100).ffn_dim == 100
