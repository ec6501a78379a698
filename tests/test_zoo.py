import pytest
import torch
from conftest import REPO

from ablations import cli
from models import Transformer, total_params
from models.layers import KVCache
from models.zoo import ARCHITECTURES, spreadsheet_markdown

# Parameter counts the model cards publish; each pins both the shapes and the accounting formula.
PUBLISHED = {
    "gpt2": 124_439_808, "pythia": 6_857_302_016, "llama": 6_738_415_616, "llama3": 8_030_261_248,
    "mistral": 7_241_732_096, "qwen2.5": 7_615_616_512, "gemma2": 9_241_705_984, "phi3": 3_821_079_552,
    "smollm": 134_515_008,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_real_shapes_have_the_published_parameter_count(name):
    assert total_params(ARCHITECTURES[name].config) == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_tiny_versions_build_count_and_decode_like_the_full_forward(name):
    config = ARCHITECTURES[name].tiny()
    for field in ("norm", "norm_position", "activation", "gated", "block", "pos", "qk_norm", "attn_softcap", "layer_pattern"):
        assert getattr(config, field) == getattr(ARCHITECTURES[name].config, field)  # same architecture, smaller
    torch.manual_seed(0)
    model = Transformer(config).eval()
    assert sum(p.numel() for p in model.parameters()) == total_params(config)
    tokens = torch.randint(0, 256, (2, 20))
    with torch.no_grad():
        full = model(tokens)
        cache = KVCache()
        steps = torch.cat([model(tokens[:, :12], cache)] + [model(tokens[:, i : i + 1], cache) for i in range(12, 20)], 1)
    assert torch.isfinite(full).all()
    torch.testing.assert_close(steps, full, atol=1e-5, rtol=1e-5)


def test_readme_holds_the_current_spreadsheet():
    readme = (REPO / "README.md").read_text()
    assert f"{cli.ARCHS_START}\n{spreadsheet_markdown()}\n{cli.ARCHS_END}" in readme, "run: ablate archs --write README.md"


def test_archs_command_prints_one_row_per_architecture(capsys):
    assert cli.main(["archs"]) == 0
    spreadsheet = capsys.readouterr().out.split("\n\n")[0]  # then its sources, then the survey's rules
    rows = [line for line in spreadsheet.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(ARCHITECTURES)
    assert any(row.startswith("| gemma2 9B | 2024 | RMSNorm (1+w), double | GeGLU |") for row in rows)
