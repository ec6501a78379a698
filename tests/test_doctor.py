"""`ablate doctor` on CPU: every packed model passes its bf16-vs-float32 step, and the throughput line is printed
(on CPU without an MFU: there is no peak to divide by). `ablate doctor --full --device cpu` is the GPU node
check's dry run: every section has its rows, each passing or saying why it was skipped, in one printed table
that is also written as markdown and CSV; its DDP step and its batch-size search are checked against references."""

import math

import pandas as pd
import torch
from conftest import ablate

from ablations.bench import gpu_check
from ablations.bench.doctor import PACKED
from ablations.bench.gpu_check import Check, full_check
from ablations.bench.gpu_probes import ddp_step, largest_batch

SECTIONS = ["axes", "speed", "peers", "host syncs", "memory", "run path", "ddp", "total"]


def test_doctor_passes_every_axis_in_bf16_on_cpu():
    done = ablate("doctor", "--device", "cpu", "--preset", "smoke", "--eager-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(PACKED)}/{len(PACKED)} checks passed" in done.stdout
    assert done.stdout.count("ok   ") == len(PACKED) and "MFU: no known peak for this device" in done.stdout
    assert "Mismatch dtype" not in done.stderr  # RMSNorm stays on its fused kernel under autocast


def test_full_dry_run_on_cpu_prints_and_writes_every_section(tmp_path):
    done = ablate("doctor", "--full", "--device", "cpu", "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    [csv], [md] = tmp_path.glob("doctor-cpu-*.csv"), tmp_path.glob("doctor-cpu-*.md")
    rows = pd.read_csv(csv)
    assert list(rows["section"].unique()) == SECTIONS
    assert all(s == "pass" or (s.startswith("skipped: ") and len(s) > len("skipped: ")) for s in rows["status"]), rows
    table = md.read_text().split("\n\n")[-1].strip()
    assert table in done.stdout and table.count("\n") == len(rows) + 1  # header, rule, one line per row
    axes = rows[rows["section"] == "axes"]["check"]
    for name in PACKED:  # eager and compiled rows for every packed model, compiled ones skipped on CPU
        assert axes.str.startswith(f"{name}, eager: bf16").sum() == axes.str.startswith(f"{name}, compiled: bf16").sum() == 1
    by_check = rows.set_index("check")["status"]
    assert by_check.filter(like="attention kernel").eq("skipped: needs CUDA").all()
    assert by_check.filter(like=", eager: bf16").eq("pass").all()
    for shape in ("smoke", "tiny"):  # the CPU stand-ins for small and base
        assert by_check.filter(regex=rf"^{shape} .*eager$").eq("pass").all()
        assert by_check.filter(regex=rf"^ours ÷ \w+, {shape}, compiled$").str.startswith("skipped: CPU dry run").all()
    assert rows[rows["section"] == "host syncs"]["status"].str.startswith("skipped: needs CUDA").all()
    assert rows[rows["section"].isin(["run path", "ddp"])]["status"].eq("pass").all()


def test_a_section_that_raises_is_a_failed_row_and_the_others_still_run(monkeypatch):
    fine = [Check("x", "y", "1", "1", "pass")]
    for name in ("axes_section", "peers_section", "syncs_section", "run_path_section", "ddp_section"):
        monkeypatch.setattr(gpu_check, name, lambda plan: fine)
    monkeypatch.setattr(gpu_check, "speed_section", lambda plan, peaks: fine)

    def broken(plan, peaks):
        raise RuntimeError("no memory today")

    monkeypatch.setattr(gpu_check, "memory_section", broken)
    checks = full_check("cpu", say=lambda _: None)
    failed = [c for c in checks if c.status == "fail"]
    assert [(c.section, c.figure) for c in failed] == [("memory", "RuntimeError: no memory today")]
    assert len(checks) == 6 + 1 + 1  # six fine sections, the failed one, the wall-time row


def test_ddp_step_has_the_plain_steps_loss_and_gradients(tmp_path):
    loss, ddp, plain = ddp_step("cpu", tmp_path)
    assert math.isfinite(loss) and ddp.keys() == plain.keys()
    for name, grad in plain.items():
        assert grad is not None and grad.abs().sum() > 0, name
        torch.testing.assert_close(ddp[name], grad, rtol=0, atol=0, msg=name)


def test_largest_batch_finds_the_limit_from_below_within_a_sixteenth():
    for limit in (1, 20, 31, 32, 300, 1000, 4096):
        probed = []

        def fits(batch: int) -> bool:
            probed.append(batch)
            return batch <= limit

        found = largest_batch(fits, start=32, cap=4096)
        assert limit * 15 / 16 <= found <= limit and len(probed) <= 12, (limit, found, probed)
    assert largest_batch(lambda batch: False, start=32, cap=4096) == 0
    assert 100 * 15 / 16 <= largest_batch(lambda batch: True, start=32, cap=100) <= 100
