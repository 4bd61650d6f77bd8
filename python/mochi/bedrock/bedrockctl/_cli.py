"""The command line: parser, the status/show commands, and main()."""

import os
import sys

from . import module, pool, provider, xstream
from ._parsing import Parser, add_command, add_target_options
from ._run import open_session, show_each
from ._session import CtlError, report

PROG = "bedrockctl"


def status(args):
    """Prints the selected daemons' addresses (no RPC is sent)."""
    with open_session(args) as session:
        for address in session.addresses:
            print(address)
    return 0


def show(args):
    return show_each(args, lambda config: config)


def build_parser():
    parser = Parser(
        prog=PROG,
        description="Inspect and change running Bedrock daemons.",
        epilog="A target is flock://<group file> (every process of a Flock group) or a "
               "daemon's address, such as na+sm://1234-0. The bedrockctl shell function "
               "of bedrockctl-setup.sh remembers one: 'bedrockctl activate <target>', "
               "'bedrockctl deactivate'. The library's own log is off unless "
               "MOCHI_LOG_LEVEL is set (e.g. to warning).")
    add_target_options(parser, hidden=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=Parser)
    add_command(commands, "status", "print the addresses of the target daemons", status)
    add_command(commands, "show",
                "print the configuration of the target daemons (JSON, by address)", show)
    pool.register(commands)
    xstream.register(commands)
    module.register(commands)
    provider.register(commands)
    return parser


def main(argv=None):
    """Runs bedrockctl with ``argv`` (default: sys.argv[1:]); returns the
    exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("activate", "deactivate"):
        report(f"'{argv[0]}' is a command of the bedrockctl shell function (source "
               f"bedrockctl-setup.sh); without it, set or unset BEDROCKCTL_CONNECTION")
        return 2
    parser = build_parser()
    try:
        argv, config_options = provider.split_config_options(argv)
    except CtlError as e:
        parser.error(str(e))
    args = parser.parse_args(argv)
    if config_options and args.handler is not provider.create:
        parser.error(f"{config_options[0][0]}: --config.* options are only "
                     f"for 'provider create'")
    args.config_options = config_options
    try:
        return args.handler(args)
    except CtlError as e:
        report(e)
        return e.status
    except ImportError as e:                 # libmochi could not be loaded
        report(f"cannot load the Mochi library: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:                  # e.g. piped into head
        # Nothing more can be written; keep the interpreter's final flush quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
