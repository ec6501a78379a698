import sys
from pathlib import Path

import pytest

import ablations.catalogue
from ablations.catalogue import all_ablations, discover
from ablations.declare.metrics import METRICS
from ablations.declare.presets import PRESETS
from ablations.declare.spec import GROUPS
from ablations.runs.resolve import model_config, train_config
from models import kv_cache_bytes, non_embedding_params, total_params

CATALOGUE = Path(ablations.catalogue.__file__).parent
NEW_ABLATION = '''
from ablations.declare.spec import Ablation, Claim

ABLATION = Ablation(name="{name}", headline="h", source="s", base={{}}, variants={{"a": {{}}, "b": dict(norm="rms")}},
                    baseline="a", claims=(Claim(says="b is lower", treatment="b", baseline="a", metric="final_val_loss",
                                                direction="lower", target=0.01, why="w"),))
'''


def test_every_file_in_the_catalogue_is_an_ablation_and_nothing_else_lists_them():
    modules = sorted(p.stem for p in CATALOGUE.glob("*.py") if p.stem != "__init__")
    assert list(all_ablations()) == modules  # each file declares the ablation it is named after


def test_adding_an_ablation_is_adding_one_file(tmp_path, monkeypatch):
    package = tmp_path / "my_catalogue"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "first.py").write_text(NEW_ABLATION.format(name="first"))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(discover("my_catalogue")) == ["first"]
    (package / "second.py").write_text(NEW_ABLATION.format(name="second"))
    assert list(discover("my_catalogue")) == ["first", "second"]
    (package / "again.py").write_text(NEW_ABLATION.format(name="first"))
    with pytest.raises(ValueError, match="two ablations are named 'first'"):
        discover("my_catalogue")
    for name in ("my_catalogue", "my_catalogue.first", "my_catalogue.second", "my_catalogue.again"):
        sys.modules.pop(name, None)

ABLATIONS = all_ablations()


@pytest.mark.parametrize("name", sorted(ABLATIONS))
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_variant_resolves_for_every_preset(name, preset):
    ablation = ABLATIONS[name]
    assert ablation.baseline in ablation.variants and ablation.claims
    for claim in ablation.claims:
        assert set(claim.variants) <= set(ablation.variants) and claim.metric in METRICS and claim.why
        assert not METRICS[claim.metric].across_runs or len(claim.lrs or ablation.lrs) >= 2  # a sensitivity needs a sweep
        assert all(lr in ablation.lrs for lr in claim.lrs)  # judged only where the grid runs
    for variant in ablation.variants:
        model_config(ablation, variant, PRESETS[preset])
        for lr in ablation.lrs or (None,):
            assert train_config(ablation, variant, PRESETS[preset], lr).lr == (lr or PRESETS[preset].train.lr)


def test_gated_and_plain_mlps_match_parameters_within_one_percent():
    ablation, tiny = ABLATIONS["activations"], PRESETS["tiny"]
    counts = {v: total_params(model_config(ablation, v, tiny)) for v in ablation.variants}
    assert max(counts.values()) / min(counts.values()) < 1.01, counts


def test_norm_position_variants_differ_only_in_the_norm_and_the_warmup():
    ablation, tiny = ABLATIONS["norm_position"], PRESETS["tiny"]
    assert train_config(ablation, "pre_no_warmup", tiny).warmup_steps == 0
    for preset in PRESETS.values():  # warm-up over a tenth of the run, whatever the preset's length
        assert train_config(ablation, "pre", preset).warmup_steps == train_config(ablation, "post", preset).warmup_steps \
            == round(preset.train.steps / 10)  # to the nearest step
    pre, post = model_config(ablation, "pre", tiny), model_config(ablation, "post", tiny)
    assert pre.replace(norm_position="post", final_norm=False) == post
    assert model_config(ablation, "pre_no_warmup", tiny) == pre  # warm-up is training, not architecture


def test_the_wide_gqa_variant_matches_mha_parameters():
    ablation, tiny = ABLATIONS["mqa_vs_gqa"], PRESETS["tiny"]
    counts = {v: total_params(model_config(ablation, v, tiny)) for v in ablation.variants}
    assert counts["gqa_2_wide"] == counts["mha"] and counts["gqa_2"] < 0.9 * counts["mha"]


def test_fewer_kv_heads_shrink_the_cache_in_proportion():
    ablation, tiny = ABLATIONS["mqa_vs_gqa"], PRESETS["tiny"]
    cache = {v: kv_cache_bytes(model_config(ablation, v, tiny), 1024) for v in ablation.variants}
    assert cache["mha"] == 2 * cache["gqa_4"] == 4 * cache["gqa_2"] == 8 * cache["mqa"]


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_relative_overrides_resolve_against_the_preset(preset):
    shape = PRESETS[preset].model
    heads = ABLATIONS["head_dim"]
    for variant, ratio in (("ratio_0.5", 0.5), ("ratio_1", 1.0), ("ratio_2", 2.0)):
        config = model_config(heads, variant, PRESETS[preset])
        assert config.effective_head_dim * config.n_heads == ratio * shape["d_model"]
    windows = ABLATIONS["sliding_window"]
    assert model_config(windows, "hybrid", PRESETS[preset]).sliding_window == shape["context"] // 8
    assert model_config(windows, "hybrid", PRESETS[preset]).layer_kind(3) == "global"


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_aspect_ratio_shapes_share_one_parameter_budget(preset):
    aspect = ABLATIONS["aspect_ratio"]
    budget = non_embedding_params(model_config(aspect, aspect.baseline, PRESETS[preset]))
    depths = []
    for variant in aspect.variants:
        config = model_config(aspect, variant, PRESETS[preset])
        assert config.effective_head_dim == 16 and config.n_heads * 16 == config.d_model
        assert abs(non_embedding_params(config) / budget - 1) < 0.11, (variant, config.d_model)
        depths.append((config.n_layers, config.d_model))
    assert [n for n, _ in depths] == [1, 2, 4, 8, 16]
    assert [d for _, d in depths] == sorted((d for _, d in depths), reverse=True)  # deeper is narrower


def test_the_catalogue_covers_every_group_of_the_lecture():
    assert {a.group for a in ABLATIONS.values()} == set(GROUPS)


def test_the_readme_lists_every_ablation_under_its_group():
    readme = (CATALOGUE.parents[1] / "README.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[2] for line in readme.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip() in GROUPS}
    assert set(rows) == set(GROUPS)
    for ablation in ABLATIONS.values():
        assert ablation.name in {name.strip() for name in rows[ablation.group].replace(" (no norm)", "").split(",")}
