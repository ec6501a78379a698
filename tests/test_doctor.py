"""`ablate doctor` on CPU: every packed model passes its bf16-vs-float32 step, and the throughput line is printed
(on CPU without an MFU: there is no peak to divide by)."""

from conftest import ablate

from ablations.bench.doctor import PACKED


def test_doctor_passes_every_axis_in_bf16_on_cpu():
    done = ablate("doctor", "--device", "cpu", "--preset", "smoke", "--eager-only")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(PACKED)}/{len(PACKED)} checks passed" in done.stdout
    assert done.stdout.count("ok   ") == len(PACKED) and "MFU: no known peak for this device" in done.stdout
    assert "Mismatch dtype" not in done.stderr  # RMSNorm stays on its fused kernel under autocast
