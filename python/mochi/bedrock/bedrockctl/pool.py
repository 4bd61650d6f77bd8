"""``bedrockctl pool create|list|remove``"""

from ._parsing import add_command, add_group, choices_help
from ._run import apply_each, argobots_section, show_each

# The kinds a daemon can create from a config ("external" pools are
# registered by programs, not created).
KINDS = ("fifo", "fifo_wait", "prio_wait", "earliest_first")
ACCESSES = ("private", "spsc", "mpsc", "spmc", "mpmc")


def create(args):
    pool = {"name": args.name, "kind": args.kind, "access": args.access}
    return apply_each(args, lambda handle: handle.add_pool(pool),
                      f"create pool {args.name!r}")


def list_pools(args):
    return show_each(args, lambda config: argobots_section(config).get("pools", []))


def remove(args):
    return apply_each(args, lambda handle: handle.remove_pool(args.name),
                      f"remove pool {args.name!r}")


def register(subparsers):
    commands = add_group(subparsers, "pool", "list, create and remove Argobots pools")
    p = add_command(commands, "create", "create a pool in each target daemon", create)
    p.add_argument("name", metavar="NAME", help="name of the new pool")
    p.add_argument("-k", "--kind", choices=KINDS, default="fifo_wait", metavar="KIND",
                   help=choices_help("kind of pool", KINDS, "fifo_wait"))
    p.add_argument("-a", "--access", choices=ACCESSES, default="mpmc", metavar="ACCESS",
                   help=choices_help("access policy", ACCESSES, "mpmc"))
    add_command(commands, "list", "print each target daemon's pools (JSON, by address)",
                list_pools)
    p = add_command(commands, "remove", "remove a pool from each target daemon", remove)
    p.add_argument("name", metavar="NAME", help="name of the pool to remove")
