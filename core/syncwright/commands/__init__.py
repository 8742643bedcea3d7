"""The implementations of the CLI's subcommands, one module per command."""
