"""argparse plumbing shared by the command modules."""

import argparse
import sys

from ._session import one_line


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr
    (exit status 2), pointing at --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')",
              file=sys.stderr)
        sys.exit(2)


def add_target_options(parser, hidden):
    """--target and --ranks. On the command parsers they are hidden from
    the help and leave the namespace alone unless given, so they may be
    written before or after the command."""
    def settings(text):
        if hidden:
            return {"default": argparse.SUPPRESS, "help": argparse.SUPPRESS}
        return {"default": None, "help": text}

    parser.add_argument("--target", metavar="TARGET", **settings(
        "flock://<group file> or a daemon's address (default: $BEDROCKCTL_CONNECTION)"))
    parser.add_argument("--ranks", metavar="LIST", **settings(
        "only these members of the target, by index: a comma-separated list "
        "of indices and ranges, e.g. 0,2-4"))


def add_group(subparsers, name, help):
    """A command group (pool, xstream, ...) whose sub-commands are added
    with :func:`add_command`."""
    parser = subparsers.add_parser(name, help=help, description=help)
    commands = parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                     parser_class=Parser)
    return commands


def add_command(subparsers, name, help, handler):
    parser = subparsers.add_parser(name, help=help, description=help)
    add_target_options(parser, hidden=True)
    parser.set_defaults(handler=handler)
    return parser


def choices_help(text, choices, default):
    return f"{text}: {', '.join(choices)} (default: {default})"
