"""What a job may use: local cores, cluster profiles (`slurm/*.toml`) and the submitit parameters they turn into."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parents[2] / "slurm"


def machine_cores() -> int:
    """The cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def local_threads(concurrency: int) -> int:
    """Each of K concurrent local runs gets an equal share of the cores, at least one thread."""
    return max(1, machine_cores() // concurrency)


class ProfileError(ValueError):
    """A profile, partition or SLURM setting the user named is not usable; the message says what is."""


@dataclass(frozen=True, kw_only=True)
class Profile:
    partition: str
    cpus_per_run: int = 1
    mem_gb: float = 4
    time_min: int = 60
    gpus_per_run: int = 0  # asked for by presets that need a GPU
    gpus_per_node: int = 8
    cpu_tasks_per_run: int = 1  # processes of a run without GPUs: >1 runs DDP over gloo on CPUs
    account: str = ""
    qos: str = ""
    setup: list[str] = field(default_factory=list)
    sbatch: dict[str, str] = field(default_factory=dict)


def available_profiles(directory: Path = PROFILE_DIR) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_profile(name_or_path: str, directory: Path = PROFILE_DIR) -> Profile:
    path = Path(name_or_path) if name_or_path.endswith(".toml") else directory / f"{name_or_path}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown profile '{name_or_path}'; valid profiles: {', '.join(available_profiles(directory))} "
                           f"(or a path to a .toml file)")
    values = tomllib.loads(path.read_text())
    known = {f.name for f in fields(Profile)}
    if unknown := sorted(set(values) - known):
        raise ProfileError(f"{path}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    return Profile(**values)


def with_overrides(profile: Profile, **overrides) -> Profile:
    """Flags given on the command line win over the profile."""
    return replace(profile, **{k: v for k, v in overrides.items() if v is not None})


def require_slurm() -> None:
    if shutil.which("sbatch") is None:
        raise ProfileError("no SLURM on this machine (sbatch not found); use --executor local")


def check_partition(partition: str) -> None:
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30)
    partitions = [p.rstrip("*") for p in out.stdout.split()]
    if out.returncode == 0 and partition not in partitions:
        raise ProfileError(f"unknown partition '{partition}'; this cluster has: {', '.join(partitions)}")


def submitit_parameters(profile: Profile, gpus: int, array_parallelism: int, name: str) -> dict:
    """AutoExecutor parameters for one run: one task per GPU (Lightning's DDP reads the SLURM
    environment), spread over as many nodes as the GPU count needs."""
    nodes = max(1, math.ceil(gpus / profile.gpus_per_node)) if gpus else 1
    per_node = math.ceil(gpus / nodes) if gpus else 0
    params = dict(
        slurm_partition=profile.partition, timeout_min=profile.time_min, cpus_per_task=profile.cpus_per_run,
        mem_gb=profile.mem_gb, nodes=nodes, tasks_per_node=per_node or profile.cpu_tasks_per_run, gpus_per_node=per_node,
        slurm_array_parallelism=array_parallelism, name=name, slurm_setup=list(profile.setup),
        slurm_additional_parameters=dict(profile.sbatch),
    )
    if profile.account:
        params["slurm_account"] = profile.account
    if profile.qos:
        params["slurm_qos"] = profile.qos
    return params
