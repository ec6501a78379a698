import sys
from pathlib import Path

import pytest

import ablations.catalogue
from ablations.catalogue import all_ablations, discover
from ablations.metrics import METRICS
from ablations.presets import PRESETS
from models import kv_cache_bytes, total_params

CATALOGUE = Path(ablations.catalogue.__file__).parent
NEW_ABLATION = '''
from ablations.spec import Ablation, Expectation

ABLATION = Ablation(name="{name}", claim="c", source="s", base={{}}, variants={{"a": {{}}, "b": dict(norm="rms")}},
                    baseline="a", treatment="b", expectations=(Expectation(metric="final_val_loss", direction="lower"),))
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
    assert {ablation.baseline, ablation.treatment} <= set(ablation.variants)
    claimed = {e.metric for e in ablation.expectations}
    assert claimed <= set(METRICS)
    assert "lr_sensitivity" not in claimed or len(ablation.lrs) >= 2  # a sensitivity needs a sweep
    for variant in ablation.variants:
        ablation.model_config(variant, PRESETS[preset])
        for lr in ablation.lrs or (None,):
            assert ablation.train_config(variant, PRESETS[preset], lr).lr == (lr or PRESETS[preset].train.lr)


def test_gated_and_plain_mlps_match_parameters_within_one_percent():
    ablation, tiny = ABLATIONS["gated_vs_nongated"], PRESETS["tiny"]
    counts = {v: total_params(ablation.model_config(v, tiny)) for v in ablation.variants}
    assert max(counts.values()) / min(counts.values()) < 1.01, counts


def test_norm_position_variants_differ_only_in_the_norm_and_the_warmup():
    ablation, tiny = ABLATIONS["norm_position"], PRESETS["tiny"]
    assert ablation.train_config("pre_no_warmup", tiny).warmup_steps == 0
    assert ablation.train_config("pre", tiny).warmup_steps == tiny.train.warmup_steps
    pre, post = ablation.model_config("pre", tiny), ablation.model_config("post", tiny)
    assert pre.replace(norm_position="post", final_norm=False) == post


def test_fewer_kv_heads_shrink_the_cache_in_proportion():
    ablation, tiny = ABLATIONS["mqa_vs_gqa"], PRESETS["tiny"]
    cache = {v: kv_cache_bytes(ablation.model_config(v, tiny), 1024) for v in ablation.variants}
    assert cache["mha"] == 2 * cache["gqa_4"] == 4 * cache["gqa_2"] == 8 * cache["mqa"]
