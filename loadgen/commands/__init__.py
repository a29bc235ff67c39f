"""Subcommands of the ``wsrace`` CLI; each module has ``main(argv) -> int`` (an exit code)."""
