"""Training one run: the Lightning system, its loggers, the device, start to summary."""
