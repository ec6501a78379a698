#!/bin/bash
# The first job to send to a new GPU node: `ablate doctor --full` on one GPU (about 8 minutes).
#   sbatch --partition=YOUR_GPU_PARTITION slurm/gpu_check.sh [RESULTS_DIR]
# It prints one table to the job's log and writes doctor-DEVICE.md and .csv into RESULTS_DIR/reports
# (default ./ablate-results). A non-zero exit means a row failed; the table says which.
#SBATCH --job-name=ablate-gpu-check
#SBATCH --gpus=1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=20
#SBATCH --output=ablate-gpu-check-%j.log
set -euo pipefail
results=${1:-${ABLATE_RESULTS:-ablate-results}}
# Activate the environment that has the project installed before submitting, or add `module load`
# and `source .../activate` lines here; sbatch passes the submitting shell's environment on.
command -v ablate >/dev/null || { echo "ablate is not on PATH: activate the project's environment first" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
exec ablate doctor --full --device cuda --out "$results/reports"
