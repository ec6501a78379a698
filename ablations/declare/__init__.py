"""What an ablation, a preset, a training budget, a metric and a flag's values are, declared before any run."""
