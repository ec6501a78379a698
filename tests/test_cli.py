import dataclasses
import json
import os
import shutil

import pytest
from conftest import SHAKESPEARE, ablate

from ablations import cli
from ablations.catalogue import all_ablations
from ablations.jobs.executors import run_state
from ablations.reporting.overview import write_overview
from ablations.runs.run_record import RunRecord


def test_run_then_report_writes_table_and_both_figures(smoke_results):
    summaries = [json.loads(p.read_text()) for p in (smoke_results / "runs" / "rmsnorm_vs_layernorm").glob("*/summary.json")]
    assert sorted((s["variant"], s["seed"]) for s in summaries) == [
        ("layernorm", 0),
        ("layernorm", 1),
        ("rmsnorm", 0),
        ("rmsnorm", 1),
    ]
    assert {s["concurrency"] for s in summaries} == {1}
    if SHAKESPEARE.exists():
        assert {s["corpus"] for s in summaries} == {"shakespeare"}
    report = ablate("report", "rmsnorm_vs_layernorm", "--results-dir", str(smoke_results))
    assert report.returncode == 0, report.stderr
    out = smoke_results / "reports" / "rmsnorm_vs_layernorm"
    table = (out / "table.md").read_text()
    # 20 steps do not get below the unigram level: every smoke run is an outcome "did not train".
    assert "| layernorm (baseline) | 2 | 0 | 2 |" in table and "| rmsnorm | 2 | 0 | 2 |" in table
    assert "| RMSNorm matches LayerNorm's loss |" in table and "| **not measured** |" in table  # speed: `ablate speed`
    for png in sorted(out.glob("*.png")):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name.rsplit("-", 1)[1] for p in out.glob("*.png")) == ["grad_norm.png", "layer_grad_norms.png", "loss.png"]
    assert "final_val_loss" in (out / "table.csv").read_text()


def test_rerun_skips_finished_runs(smoke_results):
    before = {p: p.stat().st_mtime_ns for p in (smoke_results / "runs").rglob("summary.json")}
    again = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "2", "--results-dir", str(smoke_results))
    assert again.returncode == 0, again.stderr
    assert "4 run(s) already finished: skipped" in again.stdout and "via the local executor" not in again.stdout
    assert before == {p: p.stat().st_mtime_ns for p in (smoke_results / "runs").rglob("summary.json")}


ALL = ", ".join(all_ablations())  # discovered, in name order


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "nope"], f"ablation nope: unknown ablation; valid ablations: {ALL}"),
        (["run", "rmsnorm_vs_layernorm", "--preset", "huge"], "--preset huge: unknown preset; valid presets: smoke, small, base, tiny"),
        (["run", "rmsnorm_vs_layernorm", "--variants", "rmsnorm,batchnorm"],
         "--variants rmsnorm,batchnorm: item batchnorm: unknown variant; valid variants: layernorm, rmsnorm"),
        (["run", "rmsnorm_vs_layernorm", "--variants="], "--variants '': name at least one, comma-separated"),
        (["run", "rmsnorm_vs_layernorm", "--variants", "rmsnorm,rmsnorm"], "--variants rmsnorm,rmsnorm: rmsnorm named twice"),
        (["run", "rmsnorm_vs_layernorm", "--data", "/no/such/file.txt"], "--data /no/such/file.txt: no such file or directory"),
        (["run", "rmsnorm_vs_layernorm", "--data", "{tmp}/fifo"], "--data {tmp}/fifo: a FIFO, not a regular file"),
        (["run", "rmsnorm_vs_layernorm", "--data", "{tmp}/utf16.txt"], "--data {tmp}/utf16.txt: UTF-16 text; convert it"),
        (["run", "rmsnorm_vs_layernorm", "--data", "{tmp}/pngs"], "--data {tmp}/pngs: the directory holds only 1 non-text"),
        (["run", "rmsnorm_vs_layernorm", "--executor", "cloud"], "--executor cloud: unknown executor; valid executors: local"),
        (["run", "rmsnorm_vs_layernorm", "--seeds", "0"], "--seeds 0: give a whole number, 1 or more, or auto"),
        (["run", "rmsnorm_vs_layernorm", "--seeds", "many"], "--seeds many: give a whole number, 1 or more, or auto"),
        (["run", "rmsnorm_vs_layernorm", "--parallel", "0"], "--parallel 0: give a whole number from 1 to"),
        (["run", "rmsnorm_vs_layernorm", "--parallel", "999"], "--parallel 999: give a whole number from 1 to"),
        (["run", "rmsnorm_vs_layernorm", "--max-seeds", "0"], "--max-seeds 0: give a whole number, 1 or more"),
        (["run", "rmsnorm_vs_layernorm", "--gpus-per-run=-1"], "--gpus-per-run -1: give a whole number, 0 or more"),
        (["run", "rmsnorm_vs_layernorm", "--time=-5", "--executor", "slurm"], "--time -5: give a whole number, 1 or more"),
        (["run", "rmsnorm_vs_layernorm", "--executor", "slurm", "--profile", "nosuch"], "--profile nosuch: unknown profile"),
        (["plan", "rmsnorm_vs_layernorm"], "no pilot runs of rmsnorm_vs_layernorm with two or more paired seeds"),
        (["run", "rmsnorm_vs_layernorm", "--results-dir", "{tmp}/a-file"], "--results-dir {tmp}/a-file: that is a file"),
        (["report", "--all", "--results-dir", "{tmp}/a-file"], "--results-dir {tmp}/a-file: that is a file"),
        (["speed", "rmsnorm_vs_layernorm", "--results-dir", "{tmp}/a-file"], "--results-dir {tmp}/a-file: that is a file"),
        (["run", "rmsnorm_vs_layernorm", "--lrs=-1"], "--lrs -1: item -1: give a positive, finite number"),
        (["run", "rmsnorm_vs_layernorm", "--lrs", "nan"], "--lrs nan: item nan: give a positive, finite number"),
        (["run", "rmsnorm_vs_layernorm", "--lrs", "1e-3,abc"], "--lrs 1e-3,abc: item abc: give a positive, finite number"),
        (["run", "rmsnorm_vs_layernorm", "--lrs="], "--lrs '': name at least one"),
        (["run", "rmsnorm_vs_layernorm", "--tokenizer", "bpe:10"], "--tokenizer bpe:10: give bytes, bpe:N with N from 257"),
        (["run", "vocab_size", "--tokenizer", "wordpiece"], "--tokenizer wordpiece: give bytes, bpe:N"),
        (["run", "rmsnorm_vs_layernorm", "--data", "{tmp}/binary"], "--data {tmp}/binary: a binary file, not text"),
        (["run", "rmsnorm_vs_layernorm", "--force=yes"], "--force yes: takes no value; write --force alone"),
        (["speed", "rmsnorm_vs_layernorm", "--rounds", "1"], "--rounds 1: give a whole number, 2 or more"),
        (["report", "nope"], f"ablation nope: unknown ablation; valid ablations: {ALL}"),
        (["report", "rmsnorm_vs_layernorm"], "no finished runs of rmsnorm_vs_layernorm"),
        (["profile", "nope"], f"ablation nope: unknown ablation; valid ablations: {ALL}"),
        (["decode-bench", "mqa_vs_gqa", "--batch-sizes", "8,x"], "--batch-sizes 8,x: item x: give a whole number, 1 or more"),
        (["decode-bench", "mqa_vs_gqa", "--contexts", "16", "--new-tokens", "16"],
         "--new-tokens 16: give a whole number from 1 to 15 (below the smallest --contexts)"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_submitted(args, message, tmp_path, capsys):
    made = {"a-file": b"not a directory", "binary": b"\x7fELF\0\0" * 1000,
            "utf16.txt": "To be, or not to be\n".encode("utf-16") * 100}
    for name, data in made.items():
        (tmp_path / name).write_bytes(data)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "pngs").mkdir()
    (tmp_path / "pngs" / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    before = sorted(tmp_path.rglob("*"))
    args = [arg.format(tmp=tmp_path) for arg in args]
    try:  # in this process, for speed: `ablate` is `cli.main`, and the property test runs the same way
        code = cli.main([*args, *([] if "--results-dir" in args else ["--results-dir", str(tmp_path)])])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, nothing submitted


def test_bad_input_through_the_installed_command_is_one_line_and_no_traceback(tmp_path):
    result = ablate("run", "rmsnorm_vs_layernorm", "--variants=rmsnorm,rmsnorm", "--results-dir", str(tmp_path / "r"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "ablate run: --variants rmsnorm,rmsnorm: rmsnorm named twice; name each once\n"
    assert not (tmp_path / "r").exists()


def test_invalid_config_fails_naming_the_field_before_any_job(monkeypatch, tmp_path, capsys):
    good = all_ablations()["rmsnorm_vs_layernorm"]
    bad = dataclasses.replace(good, variants={**good.variants, "rmsnorm": {"norm": "rms", "n_heads": 3}})
    monkeypatch.setattr(cli.run, "get_ablation", lambda name: bad)
    assert cli.main(["run", "rmsnorm_vs_layernorm", "--executor", "debug", "--results-dir", str(tmp_path)]) == 2
    assert "ModelConfig.n_heads=3 must divide d_model" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_list_shows_ablations_variants_and_claims():
    listed = ablate("list")
    assert listed.returncode == 0
    assert "rmsnorm_vs_layernorm" in listed.stdout and "variant:  layernorm (baseline): norm=layer" in listed.stdout
    assert "RMSNorm is faster than LayerNorm" in listed.stdout and "smoke:" in listed.stdout
    claims = [line for line in listed.stdout.splitlines() if line.startswith("  claim:    ")]
    assert len(claims) == sum(len(ablation.claims) for ablation in all_ablations().values())
    (loss,) = [line for line in claims if "RMSNorm matches LayerNorm's loss" in line]
    assert "(rmsnorm vs layernorm, final_val_loss matches (margin " in loss
    headings = [line for line in listed.stdout.splitlines() if line.startswith("## ")]
    assert headings == ["## architecture", "## attention", "## stability", "## hyperparameters"]
    attention = listed.stdout.split("## attention")[1].split("## stability")[0]
    assert "mqa_vs_gqa" in attention and "sliding_window" in attention and "ffn_ratio" not in attention


def test_debug_executor_runs_in_process(tmp_path):
    code = cli.main(
        [
            "run",
            "rmsnorm_vs_layernorm",
            "--preset",
            "smoke",
            "--seeds",
            "1",
            "--variants",
            "rmsnorm",
            "--executor",
            "debug",
            "--data",
            "stdlib",
            "--results-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    (summary,) = [record.read_summary() for record in RunRecord.done(tmp_path, "rmsnorm_vs_layernorm")]
    assert summary["corpus"] == "stdlib" and summary["variant"] == "rmsnorm" and not summary["diverged"]


def test_report_all_writes_the_verdict_table(smoke_results):
    out = ablate("report", "--all", "--results-dir", str(smoke_results))
    assert out.returncode == 0, out.stderr
    overview = (smoke_results / "README.md").read_text()
    rows = [line for line in overview.splitlines() if line.startswith("| **")]
    ablations = all_ablations()
    ours = [row for row in rows if "rmsnorm_vs_layernorm" in row]
    assert len(ours) == len(ablations["rmsnorm_vs_layernorm"].claims)  # one row per claim, run or not
    unrun = [claim for name, ablation in ablations.items() if name != "rmsnorm_vs_layernorm" for claim in ablation.claims]
    assert len(rows) == len(ours) + len(unrun) and sum("not run yet" in row for row in rows) == len(unrun)
    (layers,) = [row for row in rows if "1 layer (aspect 256 at tiny) is worse than 4" in row]
    assert "beyond the tiny preset: " + ablations["aspect_ratio"].claims[2].beyond_tiny in layers
    (loss,) = [row for row in ours if "matches LayerNorm's loss" in row]
    assert "smoke, lr 0.001, 2 pairs" in loss and "[report](reports/rmsnorm_vs_layernorm/table.md)" in loss
    assert "1.821 vs 1.838" in loss and "**not scored** (the baseline layernorm never trained" in loss


def test_benchmarks_write_their_tables_beside_the_report(tmp_path):
    common = ["--preset", "smoke", "--threads", "1", "--results-dir", str(tmp_path)]
    profile = ablate("profile", "rmsnorm_vs_layernorm", *common)
    decode = ablate("decode-bench", "mqa_vs_gqa", "--batch-sizes", "1,2", "--contexts", "16,24", "--new-tokens", "4",
                    "--repeats", "1", *common)
    assert profile.returncode == 0 and decode.returncode == 0, profile.stderr + decode.stderr
    reports = tmp_path / "reports"
    profiled = (reports / "rmsnorm_vs_layernorm" / "op_profile-smoke.md").read_text()
    assert "1 threads" in profiled and "| normalisation |" in profiled
    rows = [line for line in (reports / "mqa_vs_gqa" / "decode-smoke.md").read_text().splitlines() if line.startswith("| m")]
    assert len(rows) == 2 * 2 * 2  # mha and mqa rows × 2 batch sizes × 2 contexts
    assert (reports / "mqa_vs_gqa" / "decode-smoke.png").read_bytes()[:4] == b"\x89PNG"
    overview = write_overview(list(all_ablations().values()), tmp_path).read_text()
    assert "(reports/mqa_vs_gqa/decode-smoke.md)" in overview and "(reports/rmsnorm_vs_layernorm/op_profile-smoke.md)" in overview


def test_a_damaged_run_is_named_by_status_and_report_and_trained_again_by_run(smoke_results, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(smoke_results / "runs", results / "runs")
    damaged = sorted(RunRecord.done(results, "rmsnorm_vs_layernorm"), key=lambda r: r.run_id)[0]
    summary = damaged.dir / "summary.json"
    summary.write_bytes(summary.read_bytes()[: summary.stat().st_size // 2])
    status = ablate("status", "rmsnorm_vs_layernorm", "--results-dir", str(results))
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert status.stdout.splitlines()[0] == "rmsnorm_vs_layernorm: 1 damaged, 3 finished"
    (row,) = [line for line in status.stdout.splitlines() if damaged.run_id in line]
    assert "damaged" in row and "summary.json cannot be read (cut short or edited)" in row
    report = ablate("report", "rmsnorm_vs_layernorm", "--results-dir", str(results))
    assert report.returncode == 0 and "Traceback" not in report.stderr, report.stderr
    assert f"left out 1 damaged run(s) of rmsnorm_vs_layernorm: {damaged.dir} (summary.json cannot be read" in report.stdout
    again = ablate("run", "rmsnorm_vs_layernorm", "--preset", "smoke", "--seeds", "2", "--results-dir", str(results))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "3 run(s) already finished: skipped" in again.stdout and "1 damaged run(s), trained again: " in again.stdout
    assert run_state(damaged) == "finished"


def test_a_report_with_only_damaged_runs_names_them(smoke_results, tmp_path):
    results = tmp_path / "results"
    (kept,) = sorted(RunRecord.done(smoke_results, "rmsnorm_vs_layernorm"), key=lambda r: r.run_id)[:1]
    shutil.copytree(kept.dir, results / "runs" / "rmsnorm_vs_layernorm" / kept.dir.name)
    summary = results / "runs" / "rmsnorm_vs_layernorm" / kept.dir.name / "summary.json"
    summary.write_bytes(summary.read_bytes()[: summary.stat().st_size // 2])
    report = ablate("report", "rmsnorm_vs_layernorm", "--results-dir", str(results))
    assert report.returncode == 2 and report.stderr.count("\n") == 1 and "Traceback" not in report.stderr
    assert "no finished runs of rmsnorm_vs_layernorm" in report.stderr
    assert "left out 1 damaged run(s) of rmsnorm_vs_layernorm: " in report.stderr
    assert "summary.json cannot be read" in report.stderr


@pytest.mark.parametrize("preset, repeats", [("smoke", False), ("small", True)])
def test_run_says_up_front_when_its_runs_would_read_the_training_split_more_than_once(tmp_path, capsys, preset, repeats):
    from ablations import cli
    from ablations.data.corpus import training_passes

    argv = ["run", "rmsnorm_vs_layernorm", "--preset", preset, "--data", "stdlib", "--results-dir", str(tmp_path)]
    args = cli.build_parser().parse_args([*argv, "--allow-repeats"])
    cli.check_flags(cli.FLAGS["run"], args)
    specs = cli.plan(args)
    passes = training_passes(specs[0].corpus, specs[0].train.steps, specs[0].train.batch_size, specs[0].model.context)
    note = "repeated data, not single-pass pre-training" in capsys.readouterr().out
    assert (passes > 1) == repeats == note


def test_a_preset_meant_for_single_pass_refuses_a_corpus_it_would_repeat_unless_asked(tmp_path):
    """small reads 82M tokens: the stdlib sources (28M in training) about 2.9 times. Refused before anything is written."""
    from ablations.data.corpus import load_corpus, training_passes
    from ablations.declare.presets import get_preset

    small = get_preset("small")
    corpus = load_corpus("stdlib", context=256)
    expected = training_passes(corpus, small.train.steps, small.train.batch_size, 256)
    done = ablate("run", "rmsnorm_vs_layernorm", "--preset", "small", "--data", "stdlib", "--executor", "debug",
                  "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert done.stderr.startswith("ablate run: --preset small: runs read the training split up to "
                                  f"{expected:.1f} times") and "--allow-repeats" in done.stderr
    assert not (tmp_path / "results").exists()
