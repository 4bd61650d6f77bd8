"""Running one operation on every selected daemon, and printing results."""

import json
import os

from ._session import ENV_VARIABLE, Session, report


def open_session(args):
    """The Session for the parsed arguments' --target / --ranks (the
    target defaulting to $BEDROCKCTL_CONNECTION)."""
    target = args.target if args.target is not None else os.environ.get(ENV_VARIABLE)
    return Session(target, args.ranks)


def print_json(value):
    print(json.dumps(value, indent=2))


def _failures():
    from ..common import ClientException
    # NotImplementedError: the loaded libmochi lacks the call.
    return (ClientException, NotImplementedError)


def show_each(args, extract):
    """Reads each selected daemon's config and prints
    ``{address: extract(config)}`` as JSON. A daemon that cannot be read is
    reported (the others are still shown); returns the exit status."""
    failed = False
    result = {}
    with open_session(args) as session:
        for address, handle in session.members():
            try:
                config = handle.config
            except _failures() as e:
                report(f"{address}: cannot read the configuration: {e}")
                failed = True
                continue
            result[address] = extract(config)
    if result or not failed:
        print_json(result)
    return 1 if failed else 0


def apply_each(args, action, what):
    """Calls ``action(handle)`` for each selected daemon; a failure is
    reported as "<address>: could not <what>: <reason>" and the other
    daemons are still processed. Returns the exit status."""
    failed = False
    with open_session(args) as session:
        for address, handle in session.members():
            try:
                action(handle)
            except _failures() as e:
                report(f"{address}: could not {what}: {e}")
                failed = True
    return 1 if failed else 0


def argobots_section(config):
    """The ``argobots`` object of a daemon's config (engine 0's when the
    daemon has several engines: they share it)."""
    margo = config.get("margo", {})
    if isinstance(margo, list):
        margo = margo[0] if margo else {}
    return margo.get("argobots", {})
