"""``bedrockctl provider create|list|remove``"""

import argparse
import re

from ._parsing import add_command, add_group
from ._run import apply_each, show_each
from ._session import CtlError

CONFIG_PREFIX = "--config."
DEFAULT_POOL = "__primary__"
AUTO_PROVIDER_ID = 65535

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?")


def coerce(text):
    """A --config.* value: true/false become booleans, integer and decimal
    numerals numbers; anything else stays a string."""
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def split_config_options(argv):
    """Takes the ``--config.a.b VALUE`` (or ``--config.a.b=VALUE``) pairs out
    of ``argv`` (argparse cannot declare them). Returns the remaining
    arguments and a list of (option, [keys], raw value)."""
    rest, options = [], []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if not arg.startswith(CONFIG_PREFIX):
            rest.append(arg)
            i += 1
            continue
        option, has_value, value = arg.partition("=")
        i += 1
        if not has_value:
            if i >= len(argv) or argv[i].startswith(CONFIG_PREFIX):
                raise CtlError(f"option {option} needs a value", status=2)
            value = argv[i]
            i += 1
        keys = option[len(CONFIG_PREFIX):].split(".")
        if any(not key for key in keys):
            raise CtlError(f"invalid option {option}: expected --config.<key>[.<key>...]",
                           status=2)
        options.append((option, keys, value))
    return rest, options


def build_config(options):
    """The provider config made of the --config.* options."""
    config = {}
    origin = {}           # key path -> the option that set it
    for option, keys, raw in options:
        section = config
        for depth, key in enumerate(keys[:-1]):
            path = tuple(keys[:depth + 1])
            child = section.setdefault(key, {})
            if not isinstance(child, dict):
                raise CtlError(f"option {option} conflicts with {origin[path]}", status=2)
            origin.setdefault(path, option)
            section = child
        last = keys[-1]
        if last in section:
            earlier = origin[tuple(keys)]
            what = "is given twice" if earlier == option else f"conflicts with {earlier}"
            raise CtlError(f"option {option} {what}", status=2)
        section[last] = coerce(raw)
        origin[tuple(keys)] = option
    return config


def parse_dependencies(values):
    """``-d name:value`` options -> {name: value}. The value is what follows
    the first colon (it may hold colons itself, as in type:id)."""
    dependencies = {}
    for text in values:
        name, colon, value = text.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or not value:
            raise CtlError(f"invalid dependency {text!r}: expected <name>:<value>", status=2)
        if name in dependencies:
            raise CtlError(f"dependency {name!r} is given more than once", status=2)
        dependencies[name] = value
    return dependencies


def _provider_id(text):
    if not _INT.fullmatch(text.strip()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid provider id {text!r}: expected an integer from 0 to 65535 "
            f"(65535: let the daemon choose)")
    return int(text)


def create(args):
    dependencies = parse_dependencies(args.dependencies)
    # The pool reaches a module as its "pool" dependency; -d pool:... and -p
    # are two ways of giving it.
    if "pool" in dependencies and args.pool is not None:
        raise CtlError("the pool is given twice (-p/--pool and -d pool:...); give one",
                       status=2)
    dependencies.setdefault("pool", args.pool if args.pool is not None else DEFAULT_POOL)
    description = {
        "name": args.name,
        "type": args.type,
        "provider_id": args.provider_id,
        "config": build_config(args.config_options),
        "dependencies": dependencies,
        "tags": list(args.tags),
    }
    return apply_each(args, lambda handle: handle.add_provider(description),
                      f"create provider {args.name!r}")


def list_providers(args):
    return show_each(args, lambda config: config.get("providers", []))


def remove(args):
    raise CtlError(f"cannot remove provider {args.name!r}: removing a provider from a "
                   f"running daemon is not supported (the Bedrock client API has no "
                   f"remote provider removal)")


def register(subparsers):
    commands = add_group(subparsers, "provider", "list, create and remove providers")
    p = add_command(
        commands, "create", "create a provider in each target daemon", create)
    p.epilog = ("The provider's configuration is given with --config.<key>[.<key>...] "
                "VALUE options, e.g. --config.group.type static; true/false and numbers "
                "are converted, other values stay strings.")
    p.add_argument("name", metavar="NAME", help="name of the new provider")
    p.add_argument("-t", "--type", required=True, metavar="TYPE",
                   help="provider type (the module's name)")
    p.add_argument("-i", "--id", dest="provider_id", type=_provider_id,
                   default=AUTO_PROVIDER_ID, metavar="ID",
                   help="provider id (default: 65535, the daemon picks a free one)")
    p.add_argument("-p", "--pool", default=None, metavar="POOL",
                   help=f"pool the provider uses, given as its \"pool\" dependency "
                        f"(default: {DEFAULT_POOL})")
    p.add_argument("-d", "--dependency", dest="dependencies", action="append", default=[],
                   metavar="NAME:VALUE", help="a dependency (repeatable)")
    p.add_argument("-a", "--tag", dest="tags", action="append", default=[], metavar="TAG",
                   help="a tag (repeatable)")
    add_command(commands, "list", "print each target daemon's providers (JSON, by address)",
                list_providers)
    p = add_command(commands, "remove", "remove a provider (not supported)", remove)
    p.add_argument("name", metavar="NAME", help="name of the provider")
