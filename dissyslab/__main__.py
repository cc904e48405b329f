"""Command line: ``python -m dissyslab doctor`` checks that diagrams and live views will work."""

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m dissyslab",
        description="DisSysLab: networks of ordinary Python functions, run concurrently.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser(
        "doctor",
        help="check Graphviz, ipywidgets and JupyterLab's widget support, and say how to fix each",
    )
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import main as doctor

        return doctor()
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
