"""Bridges from the lake to other tools (MLflow); each imports its tool lazily and is a pip extra."""
