"""The command line: one module per command group; the only code that prints."""
