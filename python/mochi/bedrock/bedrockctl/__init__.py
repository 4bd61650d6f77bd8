"""bedrockctl: inspect and change running Bedrock daemons from the shell.

    python3 -m mochi.bedrock.bedrockctl --target flock://group.json status
    python3 -m mochi.bedrock.bedrockctl --target na+sm://1234-0 pool list

The target is ``flock://<group file>`` (every distinct process of a Flock
group) or one daemon's address (anything containing ``://``); without
``--target`` it is taken from ``$BEDROCKCTL_CONNECTION``, which the
``bedrockctl`` shell function of ``bedrockctl-setup.sh`` sets with
``bedrockctl activate <target>``. ``--ranks 0,2-4`` restricts a command to
those members (indices in the group). Run with ``--help`` for the commands.

:func:`main` takes the argument list and returns the exit status: 0 on
success, 1 when the target or a daemon reported an error, 2 for a usage
error. Errors are printed to stderr, one line each.
"""

from ._cli import main  # noqa: F401

__all__ = ["main"]
