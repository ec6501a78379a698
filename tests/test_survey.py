import dataclasses
import struct

import pytest
from conftest import REPO

from ablations import cli
from ablations.reporting.markdown import SURVEY_BLOCK
from ablations.reporting.survey_figure import plot_survey
from models.survey import count_rules, rules_markdown
from models.zoo import ARCHITECTURES, spreadsheet_markdown

# Every model the lecture's survey names, and its row here.
LECTURE_MODELS = {
    "Transformer (2017)": "transformer_2017", "GPT-2": "gpt2", "T5": "t5", "GPT-3": "gpt3", "GPT-J": "gpt_j",
    "Gopher": "gopher", "Chinchilla": "chinchilla", "BLOOM": "bloom", "OPT": "opt", "PaLM": "palm",
    "GPT-NeoX / Pythia": "pythia", "LLaMA": "llama", "LLaMA 2": "llama2", "Mistral": "mistral", "Falcon": "falcon",
    "Yi": "yi", "DeepSeek": "deepseek_llm", "InternLM": "internlm2", "LLaMA 3": "llama3", "Grok": "grok1",
    "Phi-3": "phi3", "Command R": "command_r", "Nemotron": "nemotron4", "Gemma 2": "gemma2", "SmolLM": "smollm",
    "Qwen": "qwen2.5", "OLMo 2": "olmo2", "Phi-4": "phi4", "Command A": "command_a", "Gemma 3": "gemma3",
    "Llama 4": "llama4",
}


def _near(value, low, high):  # the survey's reading of "≈" and "a–b", restated rather than imported
    return 0.9 * low <= value <= 1.1 * high


def _expected(a):
    """Per rule, in the survey's order: (is the model covered, does it follow), straight from its config."""
    c, recent = a.config, a.year >= 2023
    hd = c.head_dim or c.d_model // c.n_heads
    d_ff = c.effective_d_ff / c.d_model
    return [
        (True, c.norm_position in ("pre", "double", "post_block")),
        (recent, c.norm == "rms"),
        (recent, c.pos == "rope"),
        (recent, c.gated),
        (not a.moe and not c.gated, _near(d_ff, 4, 4)),
        (not a.moe and c.gated, _near(d_ff, 8 / 3, 8 / 3)),
        (True, _near(c.n_heads * hd / c.d_model, 1, 1)),
        (True, _near(c.d_model / c.n_layers, 100, 200)),
        (a.multilingual is False, _near(c.vocab_size, 30_000, 50_000)),
        (a.multilingual is True, _near(c.vocab_size, 100_000, 250_000)),
        (a.year >= 2024, any([c.z_loss > 0, c.qk_norm is not None, c.attn_softcap, c.output_softcap])),
        (recent, (c.n_kv_heads or c.n_heads) < c.n_heads),
    ]


def _check_counts(architectures):
    counts = count_rules(architectures)
    expected = [_expected(a) for a in architectures]
    for i, count in enumerate(counts):
        covered = [a.name for a, rows in zip(architectures, expected) if rows[i][0]]
        exceptions = [a.name for a, rows in zip(architectures, expected) if rows[i][0] and not rows[i][1]]
        assert [a.name for a in count.covered] == covered, count.rule.says
        assert [a.name for a in count.exceptions] == exceptions, count.rule.says
        assert count.holds == ((len(covered) - len(exceptions)) / len(covered) >= count.rule.strength)
    return counts


def test_each_rule_counts_what_the_configs_say():
    counts = _check_counts(list(ARCHITECTURES.values()))
    pre_norm, rope = counts[0], counts[2]
    assert [a.name for a in pre_norm.exceptions] == ["transformer_2017"] and pre_norm.holds  # the lecture's one post-norm
    assert not rope.exceptions and len(rope.covered) == sum(a.year >= 2023 for a in ARCHITECTURES.values())
    assert counts[4].span == (4.0, 64.0)  # plain MLPs: 4·d, except T5 11B's 64·d


def test_every_model_the_lecture_names_has_a_sourced_row():
    table = spreadsheet_markdown()
    for lecture_name, name in LECTURE_MODELS.items():
        arch = ARCHITECTURES[name]
        assert arch.source.strip() and 2017 <= arch.year <= 2025, lecture_name
        assert f"| {name} {arch.size} | {arch.year} |" in table and f"- **{name}**: {arch.source}" in table


def test_a_new_post_norm_model_changes_the_counts():
    base = list(ARCHITECTURES.values())
    post = dataclasses.replace(ARCHITECTURES["llama3"], name="postnorm_2024",
                               config=ARCHITECTURES["llama3"].config.replace(norm_position="post"))
    before, after = count_rules(base)[0], _check_counts(base + [post])[0]
    assert (after.followed, len(after.covered)) == (before.followed, len(before.covered) + 1)
    assert [a.name for a in after.exceptions] == ["transformer_2017", "postnorm_2024"]
    row = rules_markdown(base + [post]).splitlines()[2]
    assert f"{before.followed} of {len(base) + 1}" in row and "transformer_2017, postnorm_2024" in row


@pytest.mark.parametrize("readme", ["README.md", "results/README.md"])
def test_readmes_hold_the_current_rules(readme):
    start, end = SURVEY_BLOCK
    assert f"{start}\n{rules_markdown()}\n{end}" in (REPO / readme).read_text(), \
        "run: ablate archs --write README.md --write results/README.md"


def test_archs_command_fills_the_survey_block_and_draws_the_figure(tmp_path, capsys):
    start, end = SURVEY_BLOCK
    page, png = tmp_path / "page.md", tmp_path / "survey.png"
    page.write_text(f"# page\n{start}\nold\n{end}\ntail\n")
    assert cli.main(["archs", "--write", str(page), "--figure", str(png)]) == 0
    assert page.read_text() == f"# page\n{start}\n{rules_markdown()}\n{end}\ntail\n"
    data = png.read_bytes()
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk follows the 8-byte signature
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and width > 300 and height > 200
    (tmp_path / "plain.md").write_text("no blocks\n")
    assert cli.main(["archs", "--write", str(tmp_path / "plain.md")]) == cli.USAGE_ERROR


def test_the_figure_draws_any_set_of_models(tmp_path):
    path = plot_survey(tmp_path / "two.png", [ARCHITECTURES["gpt2"], ARCHITECTURES["llama4"]])
    assert path.stat().st_size > 0 and path.read_bytes()[:4] == b"\x89PNG"
