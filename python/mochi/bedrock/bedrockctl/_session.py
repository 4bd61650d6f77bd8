"""Targets, rank lists and the connection to the daemons."""

import json
import os
import re
import sys

ENV_VARIABLE = "BEDROCKCTL_CONNECTION"
FLOCK_PREFIX = "flock://"


class CtlError(Exception):
    """A failure to report to the user as one line on stderr (no
    traceback); the program then exits with ``status``."""

    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def one_line(text):
    """Error texts from the library may span lines; the CLI prints one."""
    return " ".join(str(text).split())


def report(message):
    print(f"bedrockctl: error: {one_line(message)}", file=sys.stderr)


# -- ranks ------------------------------------------------------------------

_RANKS = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")


class Ranks:
    """A ``--ranks`` list such as ``0,2-4``: member indices, kept as
    inclusive intervals (a wide range costs nothing)."""

    def __init__(self, text):
        compact = "".join(text.split())
        if not _RANKS.fullmatch(compact):
            raise CtlError(f"invalid rank list {text!r}: expected indices and ranges "
                           f"separated by commas, such as 0,2-4")
        self.text = compact
        self.intervals = []
        for part in compact.split(","):
            first, _, last = part.partition("-")
            first = int(first)
            last = int(last) if last else first
            if first > last:
                raise CtlError(f"invalid range {part} in rank list {text!r}: "
                               f"{first} is greater than {last}")
            self.intervals.append((first, last))

    def select(self, count):
        """The selected indices among ``count`` members, in member order;
        a rank past the last member is an error."""
        highest = max(last for _, last in self.intervals)
        if highest >= count:
            members = "1 member" if count == 1 else f"{count} members"
            raise CtlError(f"rank {highest} is out of range: the target has {members} "
                           f"(ranks 0 to {count - 1})")
        return [i for i in range(count)
                if any(first <= i <= last for first, last in self.intervals)]


# -- targets ----------------------------------------------------------------

def _protocol_of(address, where):
    protocol, sep, rest = address.partition("://")
    if not sep or not protocol or not rest:
        raise CtlError(f"{where}: {address!r} is not an address of the form <protocol>://...")
    return protocol


class Target:
    """What ``--target`` (or ``$BEDROCKCTL_CONNECTION``) names: ``kind`` is
    "flock" (``value`` is the group file) or "address"; ``protocol`` is the
    one a client engine needs to reach it."""

    def __init__(self, text):
        if text is None or not text.strip():
            raise CtlError(f"no target: give --target <target>, or set {ENV_VARIABLE} "
                           f"(bedrockctl activate <target>); a target is "
                           f"flock://<group file> or a daemon's address")
        text = text.strip()
        self.text = text
        if text.startswith(FLOCK_PREFIX):
            self.kind = "flock"
            self.value = text[len(FLOCK_PREFIX):]
            self.protocol = self._group_file_protocol(self.value)
        elif "://" in text:
            self.kind = "address"
            self.value = text
            self.protocol = _protocol_of(text, "invalid target")
        else:
            hint = f" (for a group file, use flock://{text})" if os.path.isfile(text) else ""
            raise CtlError(f"invalid target {text!r}: expected flock://<group file> or an "
                           f"address such as na+sm://<pid>-<id>{hint}")

    @staticmethod
    def _group_file_protocol(path):
        """Reads the group file's first member, whose address gives the
        protocol (the file is read again by the client library)."""
        if not path:
            raise CtlError("invalid target 'flock://': no group file after flock://")
        try:
            with open(path, "r", encoding="utf-8") as f:
                content = f.read()
        except OSError as e:
            raise CtlError(f"cannot read Flock group file {path}: {e.strerror or e}") from None
        try:
            data = json.loads(content)
        except ValueError:
            raise CtlError(f"{path} is not a Flock group file (not valid JSON)") from None
        members = data.get("members") if isinstance(data, dict) else None
        if not isinstance(members, list):
            raise CtlError(f"{path} is not a Flock group file (no \"members\" list)")
        if not members:
            raise CtlError(f"Flock group file {path} has no members")
        first = members[0]
        if not isinstance(first, dict) or not isinstance(first.get("address"), str):
            raise CtlError(f"{path} is not a Flock group file "
                           f"(its first member has no \"address\")")
        return _protocol_of(first["address"], f"Flock group file {path}")


# -- the connection -------------------------------------------------------------

class Session:
    """A client engine for the target's protocol and the addresses of the
    selected daemons. Use as a context manager; :meth:`members` yields
    ``(address, ServiceHandle)`` pairs."""

    def __init__(self, target_text, ranks_text=None):
        # Both are checked before anything is initialized.
        self.target = Target(target_text)
        self.ranks = Ranks(ranks_text) if ranks_text is not None else None
        self._client = None
        self._handles = []

    def __enter__(self):
        from ...margo import MargoException
        from ..client import Client
        from ..common import ClientException
        where = f"protocol {self.target.protocol!r} (target {self.target.text})"
        try:
            self._client = Client(self.target.protocol)
        except MargoException:
            # Margo's reason (e.g. an unknown protocol) went to its log.
            raise CtlError(f"cannot start a client engine for {where}: unsupported "
                           f"protocol or no network resource (MOCHI_LOG_LEVEL=error "
                           f"shows the library's reason)") from None
        except ClientException as e:
            raise CtlError(f"cannot start a Bedrock client for {where}: {e}") from None
        try:
            self.addresses = self._member_addresses()
        except BaseException:
            self.close()
            raise
        return self

    def _member_addresses(self):
        from ..common import ClientException
        if self.target.kind == "address":
            addresses = [self.target.value]
        else:
            try:
                group = self._client.make_service_group_handle_from_flock(self.target.value)
            except ClientException as e:
                raise CtlError(f"cannot use Flock group file {self.target.value}: {e}") from None
            addresses = group.addresses
            group.release()
        if self.ranks is not None:
            addresses = [addresses[i] for i in self.ranks.select(len(addresses))]
        return addresses

    def members(self):
        """Yields ``(address, handle)`` for each selected daemon; a handle
        that cannot be made (e.g. a malformed address) is an error for the
        whole command."""
        from ..common import ClientException
        for address in self.addresses:
            try:
                handle = self._client.make_service_handle(address)
            except ClientException as e:
                raise CtlError(f"cannot reach {address}: {e}") from None
            self._handles.append(handle)
            yield address, handle

    def close(self):
        for handle in self._handles:
            handle.release()
        self._handles = []
        if self._client is not None:
            self._client.close()
            self._client = None

    def __exit__(self, *exc):
        self.close()
        return False
