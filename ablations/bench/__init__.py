"""Measurements that need no training run: speed, decode, operator profiles, peers, the machine check."""
