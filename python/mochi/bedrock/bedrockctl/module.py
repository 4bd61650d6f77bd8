"""``bedrockctl module load|list``"""

from ._parsing import add_command, add_group
from ._run import apply_each, show_each


def load(args):
    # The daemon loads a library by path or file name; NAME only labels the
    # module in messages.
    return apply_each(args, lambda handle: handle.load_module(args.path),
                      f"load module {args.name!r} from {args.path}")


def list_modules(args):
    return show_each(args, lambda config: config.get("libraries", []))


def register(subparsers):
    commands = add_group(subparsers, "module", "load and list module libraries")
    p = add_command(commands, "load", "load a module library into each target daemon", load)
    p.add_argument("name", metavar="NAME", help="name of the module (used in messages)")
    p.add_argument("-p", "--path", required=True, metavar="LIB",
                   help="the module's shared library: a path, or a file name "
                        "the daemon's dynamic loader can find")
    add_command(commands, "list",
                "print the libraries each target daemon loaded (JSON, by address)",
                list_modules)
