"""Reading runs into verdicts: tidy frames, statistics, seed planning."""
