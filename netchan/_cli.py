"""The command line: ``netchan demo | serve | send | recv | bench``."""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m netchan``."""
    parser = argparse.ArgumentParser(prog="netchan", description=__doc__)
    parser.add_subparsers(dest="command", required=True)
    return parser


def run(argv: list[str]) -> int:
    """Run the command line with ``argv``; returns the exit status."""
    build_parser().parse_args(argv)
    return 0
