"""Running a Bedrock daemon on this machine from a ProcSpec.

    proc = deploy(spec, bedrock_binary="target/release/bedrock", daemon=True)
    ...
    proc.wait()     # e.g. after ServiceHandle.shutdown()
"""

import os
import subprocess
import tempfile

from .spec import ProcSpec

__all__ = ["deploy"]

_LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical", "off")


def deploy(spec, bedrock_binary="bedrock", log_level="info", config_file_name=None,
           workdir=".", daemon=False, output=True):
    """Writes ``spec`` as JSON and runs ``bedrock <protocol> -v <log_level>
    -c <file>``, the protocol being the first engine's.

    The file is ``config_file_name`` or, when None, a new
    ``bedrock-*.json`` in ``workdir`` (kept afterwards). With
    ``daemon=False`` this waits for the daemon to exit and returns its exit
    status; with ``daemon=True`` it returns the running
    :class:`subprocess.Popen` at once. ``output=False`` discards the
    daemon's stdout and stderr; otherwise they are this process's.
    """
    if not isinstance(spec, ProcSpec):
        raise TypeError(f"spec must be a ProcSpec, not {type(spec).__name__}")
    if log_level not in _LOG_LEVELS:
        raise ValueError(f"log_level must be one of {', '.join(_LOG_LEVELS)}, not {log_level!r}")
    spec.validate()                 # a clear error here rather than in the daemon's log
    first = spec.margo[0] if isinstance(spec.margo, list) else spec.margo
    temporary = config_file_name is None
    if temporary:
        fd, config_file_name = tempfile.mkstemp(prefix="bedrock-", suffix=".json",
                                                dir=workdir)
        os.close(fd)
    with open(config_file_name, "w") as f:
        f.write(spec.to_json())
    command = [bedrock_binary, first.mercury.protocol, "-v", log_level,
               "-c", config_file_name]
    sink = None if output else subprocess.DEVNULL
    try:
        # A list, not a shell line: paths with spaces or shell characters stay intact.
        process = subprocess.Popen(command, stdout=sink, stderr=sink)
    except OSError:
        if temporary:                   # nothing will read it
            os.unlink(config_file_name)
        raise
    if daemon:
        return process
    return process.wait()
