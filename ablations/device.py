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
