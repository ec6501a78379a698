"""Variant overrides are sorted when an ablation is declared: a typo is refused naming every allowed key, each
kind lands where it acts, and the shared Llama-style base is the same dict the catalogue wrote out before."""

import dataclasses

import pytest

from ablations.catalogue import all_ablations
from ablations.declare.presets import PRESETS
from ablations.declare.spec import Ablation, Claim
from ablations.declare.variant import MODEL_FIELDS, RELATIVE, TRAIN_FIELDS, Overrides, llama_style
from ablations.runs.resolve import model_config, resolve, train_config

CLAIM = Claim(says="b is lower", treatment="b", baseline="a", metric="final_val_loss", direction="lower", target=0.01,
              why="w")


def ablation(**variant_b) -> Ablation:
    return Ablation(name="x", headline="h", source="s", base=dict(norm="rms"), variants={"a": {}, "b": variant_b},
                    baseline="a", claims=(CLAIM,))


def test_a_typo_is_refused_at_declaration_naming_every_allowed_key():
    with pytest.raises(ValueError) as error:
        ablation(n_head=8)  # n_heads
    message = str(error.value)
    assert message.startswith("ablation x, variant b: unknown override(s) n_head; allowed: architecture ")
    for key in (*MODEL_FIELDS, *TRAIN_FIELDS, *RELATIVE):
        assert key in message


def test_each_kind_of_override_lands_where_it_acts():
    sorted_ = Overrides.sort("v", dict(n_heads=2, weight_decay=0.0, warmup_fraction=0.5))
    assert (sorted_.model, sorted_.train, sorted_.relative) == ({"n_heads": 2}, {"weight_decay": 0.0},
                                                                {"warmup_fraction": 0.5})
    declared, tiny = ablation(n_heads=2, weight_decay=0.0, warmup_fraction=0.5), PRESETS["tiny"]
    model, train = model_config(declared, "b", tiny), train_config(declared, "b", tiny)
    assert (model.n_heads, model.norm, train.weight_decay) == (2, "rms", 0.0)
    assert train.warmup_steps == tiny.train.steps // 2
    assert train_config(declared, "a", tiny) == tiny.train  # the base holds no training field


def test_equal_compute_must_name_a_variant_and_gives_the_same_steps_when_resolved_alone():
    with pytest.raises(ValueError, match="equal_compute_with='c' is not one of its variants"):
        ablation(equal_compute_with="c")
    vocab = all_ablations()["vocab_size"]
    for preset in (PRESETS["tiny"], PRESETS["small"]):
        design = resolve(vocab, preset.name)
        for variant in vocab.variants:  # alone, the variant it matches is still resolved to count its FLOPs
            assert train_config(vocab, variant, preset) == design.trains[(variant, None)]


def test_the_shared_base_is_the_llama_style_block_less_what_variants_vary():
    assert llama_style() == dict(norm="rms", activation="silu", gated=True, pos="rope", qkv_bias=False,
                                 linear_bias=False)
    assert llama_style(varied=("pos",), n_heads=8) == {**{k: v for k, v in llama_style().items() if k != "pos"},
                                                       "n_heads": 8}
    for declared in all_ablations().values():  # a base never fixes a field every variant sets
        varied = set.intersection(*(set(fields) for fields in declared.variants.values()))
        assert not varied & set(declared.base), (declared.name, varied & set(declared.base))
    assert dataclasses.replace(ablation(), name="y").overrides.keys() == {"a", "b"}  # recomputed on replace
