"""``bedrockctl xstream create|list|remove``"""

from ._parsing import add_command, add_group, choices_help
from ._run import apply_each, argobots_section, show_each
from ._session import CtlError

SCHEDULERS = ("default", "basic", "prio", "randws", "basic_wait")


def _pool_names(text):
    names = [name.strip() for name in text.split(",")]
    if not names or any(not name for name in names):
        raise CtlError(f"invalid pool list {text!r}: expected pool names separated by "
                       f"commas, e.g. my_pool,__primary__", status=2)
    return names


def create(args):
    xstream = {"name": args.name,
               "scheduler": {"type": args.scheduler, "pools": _pool_names(args.pools)}}
    return apply_each(args, lambda handle: handle.add_xstream(xstream),
                      f"create xstream {args.name!r}")


def list_xstreams(args):
    return show_each(args, lambda config: argobots_section(config).get("xstreams", []))


def remove(args):
    return apply_each(args, lambda handle: handle.remove_xstream(args.name),
                      f"remove xstream {args.name!r}")


def register(subparsers):
    commands = add_group(subparsers, "xstream", "list, create and remove execution streams")
    p = add_command(commands, "create", "create an xstream in each target daemon", create)
    p.add_argument("name", metavar="NAME", help="name of the new xstream")
    p.add_argument("-p", "--pools", required=True, metavar="POOLS",
                   help="comma-separated names of the pools its scheduler runs")
    p.add_argument("-s", "--scheduler", choices=SCHEDULERS, default="basic_wait",
                   metavar="TYPE",
                   help=choices_help("scheduler type", SCHEDULERS, "basic_wait"))
    add_command(commands, "list", "print each target daemon's xstreams (JSON, by address)",
                list_xstreams)
    p = add_command(commands, "remove", "remove an xstream from each target daemon", remove)
    p.add_argument("name", metavar="NAME", help="name of the xstream to remove")
