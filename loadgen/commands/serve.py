"""``wsrace serve``: run the bundled target app (same flags as ``python -m target_app``)."""

from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    from target_app.cli import main as serve

    return serve(argv, prog="wsrace serve")
