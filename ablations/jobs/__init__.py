"""Getting runs done: executors, cluster profiles, job states."""
