"""What a speed figure was measured on: every summary, profile and benchmark names it."""

from __future__ import annotations

import platform
from pathlib import Path

import torch


def device_name(device: torch.device) -> str:
    """GPU model, or CPU model with the thread count torch uses (it changes CPU timings severalfold)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    models = (
        [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        if cpuinfo.exists()
        else []
    )
    return f"cpu: {models[0] if models else platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


# Dense bf16 tensor-core peaks in FLOP/s (vendor datasheets; the 2:4-sparse figures are twice these). The first
# substring of the device's name that matches wins, so the more specific names come first.
PEAK_BF16_DENSE = (
    ("H100 PCIe", 756e12), ("H100", 989.4e12), ("H200", 989.4e12), ("A100", 312e12),
)


def peak_flops(name: str) -> float | None:
    """The device's dense bf16 peak, or None (CPUs, unlisted GPUs): MFU is then not reported."""
    return next((peak for key, peak in PEAK_BF16_DENSE if key in name), None) if not name.startswith("cpu") else None
