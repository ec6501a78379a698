"""One run's description, identity and folder: resolving a design, its id, its record, its frozen code."""
