"""The command line: one module per command group, every shared option defined once (options.py)."""
