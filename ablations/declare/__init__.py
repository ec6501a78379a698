"""What an ablation, a preset, a training budget and a metric are, declared before any run."""
