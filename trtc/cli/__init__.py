"""The Typer command line: one small module per subcommand; the root wires them."""
