"""bedrockctl (python -m mochi.bedrock.bedrockctl), run as a subprocess
against Bedrock servers of this process (and a `bedrock` daemon)."""

import json
import os
import subprocess
import sys

import pytest

import mochi
from mochi import _lib, margo
from mochi.bedrock.bedrockctl import provider as provider_cmd
from mochi.bedrock.bedrockctl._session import CtlError
from mochi.bedrock.client import Client
from mochi.bedrock.local import deploy
from mochi.bedrock.server import Server
from mochi.bedrock.spec import ProcSpec
from mochi.flock.view import GroupView

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(mochi.__file__)))
SETUP_SCRIPT = os.path.join(PYTHON_DIR, "bedrockctl-setup.sh")

_MISSING = [n for n in _lib.UNDECLARED if not _lib.has(n)]
needs_service_calls = pytest.mark.skipif(
    bool(_MISSING), reason=f"{_lib.path} lacks {', '.join(_MISSING)}")


# -- running the CLI -------------------------------------------------------------

def _environment(extra=None):
    env = dict(os.environ)
    env.pop("BEDROCKCTL_CONNECTION", None)
    env.pop("MOCHI_LOG_LEVEL", None)
    env["MOCHI_LIBRARY"] = _lib.path
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"]
                                      if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def ctl(*args, target=None, env=None, timeout=120):
    """Runs bedrockctl [--target TARGET] ARGS...; returns the CompletedProcess."""
    command = [sys.executable, "-m", "mochi.bedrock.bedrockctl"]
    if target is not None:
        command += ["--target", target]
    command += [str(a) for a in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=_environment(env))


def ok(result):
    """Asserts success with nothing on stderr; returns stdout."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def ok_json(result):
    return json.loads(ok(result))


def failed(result, *fragments, status=1, lines=1):
    """Asserts a failure reported as `lines` line(s) on stderr, no traceback,
    nothing on stdout, each fragment present; returns the stderr lines."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    reported = result.stderr.strip().splitlines()
    assert len(reported) == lines, result.stderr
    for line in reported:
        assert line.startswith("bedrockctl"), line
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    return reported


# -- servers ------------------------------------------------------------------------

def flock_provider(name, provider_id, groupfile):
    return {"name": name, "type": "flock", "provider_id": provider_id,
            "config": {"bootstrap": "self", "group": {"type": "static"},
                       "file": str(groupfile)}}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("bedrockctl")


@pytest.fixture(scope="module")
def servers(workdir):
    """Three Bedrock servers, each with a Flock provider writing a
    one-member group file (member<i>.flock)."""
    started = []
    for i in range(3):
        started.append(Server("na+sm", config={
            "libraries": ["libflock-bedrock-module.so"],
            "providers": [flock_provider("group", 1, workdir / f"member{i}.flock")]}))
    yield started
    for s in started:
        s.finalize()


@pytest.fixture(scope="module")
def single(servers, workdir):
    """flock:// target of the group file written by servers[0]'s provider."""
    path = workdir / "member0.flock"
    assert GroupView.from_file(str(path)).members[0].address == servers[0].address
    return f"flock://{path}"


@pytest.fixture(scope="module")
def trio(servers, workdir):
    """(flock:// target, servers in the file's member order) for a group
    of the three servers."""
    view = GroupView()
    for s in servers:
        view.members.add(s.address, 1)
    path = workdir / "trio.flock"
    view.serialize_to_file(str(path))
    by_address = {s.address: s for s in servers}
    ordered = [by_address[m.address] for m in GroupView.from_file(str(path)).members]
    return f"flock://{path}", ordered


def pools_of(server):
    return {p["name"]: p for p in server.config["margo"]["argobots"]["pools"]}


def xstreams_of(server):
    return {x["name"]: x for x in server.config["margo"]["argobots"]["xstreams"]}


def providers_of(server):
    return {p["name"]: p for p in server.config["providers"]}


# -- status and targets ---------------------------------------------------------------

def test_status_flock_target(single, servers):
    assert ok(ctl("status", target=single)) == servers[0].address + "\n"


def test_status_address_target(servers):
    assert ok(ctl("status", target=servers[1].address)).split() == [servers[1].address]


def test_status_group_and_ranks(trio):
    target, ordered = trio
    addresses = [s.address for s in ordered]
    assert ok(ctl("status", target=target)).split() == addresses
    assert ok(ctl("--ranks", "0,2", "status", target=target)).split() == \
        [addresses[0], addresses[2]]
    assert ok(ctl("--ranks", "1-2", "status", target=target)).split() == addresses[1:]
    # after the command too, in any order, repeated indices once
    assert ok(ctl("status", "--ranks", "2,0,0-0", target=target)).split() == \
        [addresses[0], addresses[2]]
    assert ok(ctl("status", "--target", target, "--ranks", "1")).split() == [addresses[1]]
    # an address target is a one-member group
    assert ok(ctl("--ranks", "0", "status", target=addresses[2])).split() == [addresses[2]]


def test_target_from_environment(single, servers):
    env = {"BEDROCKCTL_CONNECTION": single}
    assert ok(ctl("status", env=env)).split() == [servers[0].address]
    # --target wins over the environment
    assert ok(ctl("status", target=servers[2].address, env=env)).split() == \
        [servers[2].address]
    env = {"BEDROCKCTL_CONNECTION": servers[1].address}
    assert list(ok_json(ctl("show", env=env))) == [servers[1].address]


# -- show -----------------------------------------------------------------------------

def test_show(single, trio, servers):
    shown = ok_json(ctl("show", target=single))
    assert list(shown) == [servers[0].address]
    config = shown[servers[0].address]
    assert config["margo"]["mercury"]["address"] == servers[0].address
    assert [p["name"] for p in config["providers"]] == ["group"]
    assert config["libraries"] == servers[0].config["libraries"]

    shown = ok_json(ctl("show", target=servers[2].address))
    assert list(shown) == [servers[2].address]
    assert shown[servers[2].address]["bedrock"] == servers[2].config["bedrock"]

    target, ordered = trio
    shown = ok_json(ctl("show", target=target))
    assert list(shown) == [s.address for s in ordered]
    shown = ok_json(ctl("show", "--ranks", "1", target=target))
    assert list(shown) == [ordered[1].address]
    assert shown[ordered[1].address]["margo"]["mercury"]["address"] == ordered[1].address


# -- pools ----------------------------------------------------------------------------

@needs_service_calls
def test_pool_create_list_remove(trio):
    target, ordered = trio
    ok(ctl("pool", "create", "ctl_pool", "-k", "fifo", "-a", "spsc", "--ranks", "0,2",
           target=target))
    for i, server in enumerate(ordered):
        pools = pools_of(server)
        if i == 1:
            assert "ctl_pool" not in pools
        else:
            assert pools["ctl_pool"]["kind"] == "fifo"
            assert pools["ctl_pool"]["access"] == "spsc"

    listed = ok_json(ctl("pool", "list", target=target))
    assert list(listed) == [s.address for s in ordered]
    for i, server in enumerate(ordered):
        names = [p["name"] for p in listed[server.address]]
        assert names == list(pools_of(server))
        assert ("ctl_pool" in names) == (i != 1)
    listed = ok_json(ctl("pool", "list", "--ranks", "2", target=target))
    assert list(listed) == [ordered[2].address]

    ok(ctl("pool", "remove", "ctl_pool", "--ranks", "0,2", target=target))
    assert all("ctl_pool" not in pools_of(s) for s in ordered)


@needs_service_calls
def test_pool_create_defaults_and_errors(servers):
    address = servers[1].address
    ok(ctl("pool", "create", "ctl_default_pool", target=address))
    pool = pools_of(servers[1])["ctl_default_pool"]
    assert (pool["kind"], pool["access"]) == ("fifo_wait", "mpmc")
    ok(ctl("pool", "create", "ctl_long_options", "--kind", "prio_wait", "--access", "mpsc",
           target=address))
    pool = pools_of(servers[1])["ctl_long_options"]
    assert (pool["kind"], pool["access"]) == ("prio_wait", "mpsc")

    failed(ctl("pool", "create", "ctl_default_pool", target=address),
           address, "ctl_default_pool", "already used")
    failed(ctl("pool", "remove", "ctl_no_such_pool", target=address),
           address, "ctl_no_such_pool")
    failed(ctl("pool", "create", "p", "-k", "bogus", target=address), "bogus", status=2)
    failed(ctl("pool", "create", target=address), "NAME", status=2)
    failed(ctl("pool", target=address), status=2)


@needs_service_calls
def test_pool_errors_are_per_member(trio):
    target, ordered = trio
    # absent everywhere: one line per member, naming it
    lines = failed(ctl("pool", "remove", "ctl_absent", target=target), lines=3)
    assert [line.split(": ")[2] for line in lines] == [s.address for s in ordered]
    # exists on member 1 only: the others still get theirs, then exit 1
    ok(ctl("pool", "create", "ctl_partial", "--ranks", "1", target=target))
    failed(ctl("pool", "create", "ctl_partial", target=target), ordered[1].address)
    assert all("ctl_partial" in pools_of(s) for s in ordered)


# -- xstreams --------------------------------------------------------------------------

@needs_service_calls
def test_xstream_create_list_remove(single, servers):
    server = servers[0]
    ok(ctl("pool", "create", "ctl_xpool", target=single))
    ok(ctl("xstream", "create", "ctl_xstream", "-p", "ctl_xpool,__primary__",
           "-s", "basic", target=single))
    xstream = xstreams_of(server)["ctl_xstream"]
    assert xstream["scheduler"]["type"] == "basic"
    pools = server.config["margo"]["argobots"]["pools"]
    named = [p if isinstance(p, str) else pools[p]["name"]
             for p in xstream["scheduler"]["pools"]]
    assert named == ["ctl_xpool", "__primary__"]

    ok(ctl("xstream", "create", "ctl_xstream2", "--pools", "ctl_xpool", target=single))
    assert xstreams_of(server)["ctl_xstream2"]["scheduler"]["type"] == "basic_wait"

    listed = ok_json(ctl("xstream", "list", target=single))
    assert list(listed) == [server.address]
    assert [x["name"] for x in listed[server.address]] == list(xstreams_of(server))
    assert {"ctl_xstream", "ctl_xstream2", "__primary__"} <= set(xstreams_of(server))

    ok(ctl("xstream", "remove", "ctl_xstream", target=single))
    ok(ctl("xstream", "remove", "ctl_xstream2", target=single))
    assert not {"ctl_xstream", "ctl_xstream2"} & set(xstreams_of(server))
    ok(ctl("pool", "remove", "ctl_xpool", target=single))


@needs_service_calls
def test_xstream_errors(single, servers):
    failed(ctl("xstream", "create", "ctl_x", "-p", "ctl_no_such_pool", target=single),
           servers[0].address, "ctl_no_such_pool")
    assert "ctl_x" not in xstreams_of(servers[0])
    failed(ctl("xstream", "remove", "ctl_no_such_xstream", target=single),
           "ctl_no_such_xstream")
    failed(ctl("xstream", "create", "ctl_x", target=single), "--pools", status=2)
    failed(ctl("xstream", "create", "ctl_x", "-p", "a,,b", target=single), "a,,b", status=2)
    failed(ctl("xstream", "create", "ctl_x", "-p", "__primary__", "-s", "fast",
               target=single), "fast", status=2)


# -- modules ---------------------------------------------------------------------------

@needs_service_calls
def test_module_load_and_list():
    with Server("na+sm") as server:
        address = server.address
        assert ok_json(ctl("module", "list", target=address)) == {address: []}
        ok(ctl("module", "load", "flock", "-p", "libflock-bedrock-module.so", target=address))
        assert server.config["libraries"] == ["libflock-bedrock-module.so"]
        assert ok_json(ctl("module", "list", target=address)) == \
            {address: ["libflock-bedrock-module.so"]}
        failed(ctl("module", "load", "nothing", "--path", "libctl-does-not-exist.so",
                   target=address), address, "libctl-does-not-exist.so", "nothing")
        failed(ctl("module", "load", "flock", target=address), "--path", status=2)
        assert server.config["libraries"] == ["libflock-bedrock-module.so"]


# -- providers ---------------------------------------------------------------------------

@needs_service_calls
def test_provider_create_with_options(trio, workdir):
    target, ordered = trio
    ok(ctl("pool", "create", "ctl_ppool", "--ranks", "2", target=target))
    groupfile = workdir / "ctl_created.flock"
    ok(ctl("provider", "create", "ctl_provider", "-t", "flock", "-i", "7", "-p", "ctl_ppool",
           "-a", "t1", "--tag", "t2", "--ranks", "2",
           "--config.bootstrap", "self", "--config.group.type=static",
           "--config.file", groupfile, target=target))
    created = providers_of(ordered[2])["ctl_provider"]
    assert created["type"] == "flock"
    assert created["provider_id"] == 7
    assert created["tags"] == ["t1", "t2"]
    assert created["dependencies"] == {"pool": "ctl_ppool"}
    assert created["config"]["bootstrap"] == "self"
    assert created["config"]["group"]["type"] == "static"
    assert created["config"]["file"] == str(groupfile)
    assert GroupView.from_file(str(groupfile)).members[0].address == ordered[2].address
    assert all("ctl_provider" not in providers_of(s) for s in ordered[:2])

    listed = ok_json(ctl("provider", "list", target=target))
    assert list(listed) == [s.address for s in ordered]
    for server in ordered:
        assert listed[server.address] == server.config["providers"]
    listed = ok_json(ctl("provider", "list", "--ranks", "2", target=target))
    assert [p["name"] for p in listed[ordered[2].address]] == ["group", "ctl_provider"]


@needs_service_calls
def test_provider_create_defaults(servers, workdir):
    server = servers[1]
    groupfile = workdir / "ctl_defaults.flock"
    ok(ctl("provider", "create", "ctl_auto", "--type", "flock",
           "--config.bootstrap", "self", "--config.group.type", "static",
           "--config.file", groupfile, target=server.address))
    created = providers_of(server)["ctl_auto"]
    assert created["provider_id"] not in (1, 65535)      # picked by the daemon
    assert created["dependencies"] == {"pool": "__primary__"}
    assert created["tags"] == []
    # the pool as a -d dependency
    ok(ctl("provider", "create", "ctl_dep", "-t", "flock", "-d", "pool:__primary__",
           "--config.bootstrap", "self", "--config.group.type", "static",
           "--config.file", workdir / "ctl_dep.flock", target=server.address))
    assert providers_of(server)["ctl_dep"]["dependencies"] == {"pool": "__primary__"}


@needs_service_calls
def test_provider_create_errors(servers, workdir):
    server = servers[2]
    address = server.address
    flock = ["--config.bootstrap", "self", "--config.group.type", "static",
             "--config.file", workdir / "ctl_never.flock"]
    failed(ctl("provider", "create", "ctl_bad", "-t", "flock", "-p", "ctl_no_such_pool",
               *flock, target=address), address, "ctl_no_such_pool")
    failed(ctl("provider", "create", "ctl_bad", "-t", "ctl_no_such_type", target=address),
           "ctl_no_such_type")
    failed(ctl("provider", "create", "group", "-t", "flock", *flock, target=address),
           "group", "already used")
    failed(ctl("provider", "create", "ctl_bad", "-t", "flock", "-i", "1", *flock,
               target=address), "provider ID 1")
    # the daemon receives the coerced value: an integer is refused where
    # Flock wants a string
    failed(ctl("provider", "create", "ctl_bad", "-t", "flock", "--config.bootstrap", "5",
               target=address), "bootstrap")
    assert "ctl_bad" not in providers_of(server)
    assert not os.path.exists(workdir / "ctl_never.flock")

    # usage errors, found before contacting anything
    for args, fragment in [
            (["-t", "flock", "-i", "70000"], "70000"),
            (["-t", "flock", "-i", "x"], "'x'"),
            (["-t", "flock", "-d", "nocolon"], "nocolon"),
            (["-t", "flock", "-d", "a:1", "-d", "a:2"], "'a'"),
            (["-t", "flock", "-p", "p", "-d", "pool:q"], "pool"),
            (["-t", "flock", "--config.a", "1", "--config.a.b", "2"], "--config.a.b"),
            (["-t", "flock", "--config.a", "1", "--config.a", "2"], "twice"),
            (["-t", "flock", "--config.a..b", "1"], "--config.a..b"),
            (["-t", "flock", "--config.a"], "--config.a"),
            (["-t", "flock", "--config.a", "--config.b", "1"], "--config.a"),
            ([], "--type")]:
        failed(ctl("provider", "create", "ctl_bad", *args, target=address), fragment,
               status=2)
    failed(ctl("pool", "list", "--config.a", "1", target=address), "provider create",
           status=2)


@needs_service_calls
def test_provider_remove_is_refused(single, servers):
    failed(ctl("provider", "remove", "group", target=single), "not supported", "group")
    assert "group" in providers_of(servers[0])


def test_config_value_coercion():
    coerce = provider_cmd.coerce
    assert coerce("true") is True and coerce("True") is True
    assert coerce("false") is False and coerce("False") is False
    assert coerce("42") == 42 and type(coerce("42")) is int
    assert coerce("-3") == -3
    assert coerce("2.5") == 2.5 and coerce("1e3") == 1000.0 and coerce(".5") == 0.5
    assert coerce("-0.25") == -0.25
    for text in ("abc", "1.2.3", "inf", "nan", "TRUE", "0x10", "", "1e", "12abc"):
        assert coerce(text) == text
    rest, options = provider_cmd.split_config_options(
        ["provider", "create", "p", "--config.a.b", "1", "-t", "x", "--config.a.c=yes",
         "--config.d", "-2", "--", "--config.e", "f"])
    assert rest == ["provider", "create", "p", "-t", "x", "--", "--config.e", "f"]
    assert provider_cmd.build_config(options) == {"a": {"b": 1, "c": "yes"}, "d": -2}
    with pytest.raises(CtlError):
        provider_cmd.split_config_options(["--config.x"])


# -- errors of targets and ranks -------------------------------------------------------------

def test_no_target():
    failed(ctl("status"), "no target", "BEDROCKCTL_CONNECTION")
    failed(ctl("show"), "no target")
    failed(ctl("pool", "list", env={"BEDROCKCTL_CONNECTION": ""}), "no target")


def test_bad_targets(workdir, single):
    failed(ctl("status", target="nowhere"), "invalid target", "nowhere")
    groupfile = single[len("flock://"):]
    failed(ctl("status", target=groupfile), f"flock://{groupfile}")   # a hint
    failed(ctl("show", target="flock://"), "no group file")
    failed(ctl("show", target=f"flock://{workdir}/absent.flock"), "absent.flock",
           "cannot read")
    not_json = workdir / "not_json.flock"
    not_json.write_text("this is not JSON")
    failed(ctl("show", target=f"flock://{not_json}"), "not valid JSON")
    no_members = workdir / "no_members.flock"
    no_members.write_text('{"members": [], "metadata": {}}')
    failed(ctl("show", target=f"flock://{no_members}"), "no members")
    bad_member = workdir / "bad_member.flock"
    bad_member.write_text('{"members": [{"provider_id": 1}], "metadata": {}}')
    failed(ctl("show", target=f"flock://{bad_member}"), "address")
    bad_address = workdir / "bad_address.flock"
    bad_address.write_text('{"members": [{"address": "plain", "provider_id": 1}]}')
    failed(ctl("show", target=f"flock://{bad_address}"), "plain")
    failed(ctl("show", target="na+sm://garbage"), "na+sm://garbage")
    failed(ctl("pool", "list", target="bogus://somewhere"), "bogus")
    failed(ctl("show", target="://x"), "://x")


def test_target_that_is_not_bedrock():
    with margo.Engine("na+sm", margo.SERVER) as engine:
        failed(ctl("show", target=engine.address), engine.address, "bedrock_get_config")
        failed(ctl("pool", "create", "p", target=engine.address), engine.address)


def test_bad_ranks(trio, servers):
    target, _ = trio
    failed(ctl("--ranks", "a", "status", target=target), "invalid rank list", status=1)
    failed(ctl("--ranks", "0,", "status", target=target), "invalid rank list")
    failed(ctl("--ranks", "2-1", "status", target=target), "2 is greater than 1")
    failed(ctl("--ranks", "3", "status", target=target), "rank 3", "3 members")
    failed(ctl("--ranks", "0-5", "show", target=target), "rank 5")
    failed(ctl("--ranks", "1", "show", target=servers[0].address), "rank 1", "1 member")


def test_usage():
    result = ctl("--help")
    for command in ("status", "show", "pool", "xstream", "module", "provider", "--target",
                    "--ranks"):
        assert command in ok(result)
    assert "--config.<key>" in ok(ctl("provider", "create", "--help"))
    failed(ctl(), "COMMAND", status=2)
    failed(ctl("frobnicate"), "frobnicate", status=2)
    failed(ctl("activate", "flock://x"), "shell function", status=2)


@needs_service_calls
def test_unreachable_member(servers, workdir):
    """A member that is gone makes the command fail after the library's
    RPC timeout (about 30 s), the other members being served."""
    gone = Server("na+sm")
    dead = gone.address
    gone.finalize()
    live = servers[0]
    view = GroupView()
    view.members.add(dead, 1)
    view.members.add(live.address, 1)
    path = workdir / "with_dead.flock"
    view.serialize_to_file(str(path))
    result = ctl("pool", "create", "ctl_after_dead", target=f"flock://{path}")
    failed(result, dead, "ctl_after_dead")
    assert "ctl_after_dead" in pools_of(live)
    ok(ctl("pool", "remove", "ctl_after_dead", target=live.address))


# -- the shell function ----------------------------------------------------------------------

def _bash(script):
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          timeout=120, env=_environment())


def test_setup_script(single, servers):
    result = _bash(f"""
        source '{SETUP_SCRIPT}'
        bedrockctl activate '{single}'
        echo "connection=$BEDROCKCTL_CONNECTION"
        bedrockctl status
        bedrockctl pool list --ranks 0 > /dev/null && echo listed
        bedrockctl deactivate
        echo "after=${{BEDROCKCTL_CONNECTION-unset}}"
        bedrockctl status; echo "status=$?"
        bedrockctl activate; echo "activate=$?"
        bedrockctl --target '{servers[1].address}' status
    """)
    lines = result.stdout.split("\n")
    assert lines[:7] == [f"connection={single}", servers[0].address, "listed",
                         "after=unset", "status=1", "activate=2", servers[1].address]
    assert "no target" in result.stderr
    assert "usage: bedrockctl activate <target>" in result.stderr


def test_setup_script_finds_the_package(single, servers):
    """Sourced from anywhere, the function runs this tree's package even
    when PYTHONPATH does not name it."""
    result = subprocess.run(
        ["bash", "-c", f"cd / && source '{SETUP_SCRIPT}' && bedrockctl --target '{single}' status"],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in _environment().items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [servers[0].address]


# -- a bedrock daemon --------------------------------------------------------------------------

@needs_service_calls
def test_daemon(tmp_path, bedrock_binary, wait_for_file):
    groupfile = tmp_path / "daemon.flock"
    spec = ProcSpec(margo="na+sm", libraries=["libflock-bedrock-module.so"])
    spec.providers.add(name="group", type="flock", provider_id=1,
                       config={"bootstrap": "self", "group": {"type": "static"},
                               "file": str(groupfile)})
    process = deploy(spec, bedrock_binary=bedrock_binary, log_level="error",
                     workdir=str(tmp_path), daemon=True, output=False)
    try:
        assert wait_for_file(groupfile, process), "the daemon did not write its group file"
        target = f"flock://{groupfile}"
        address = GroupView.from_file(str(groupfile)).members[0].address
        assert ok(ctl("status", target=target)).split() == [address]
        ok(ctl("pool", "create", "daemon_pool", "-k", "fifo", target=target))
        ok(ctl("xstream", "create", "daemon_es", "-p", "daemon_pool", target=address))
        listed = ok_json(ctl("xstream", "list", target=address))
        assert "daemon_es" in [x["name"] for x in listed[address]]
        ok(ctl("provider", "create", "second", "-t", "flock", "-p", "daemon_pool",
               "--config.bootstrap", "self", "--config.group.type", "static",
               "--config.file", tmp_path / "second.flock", target=target))
        shown = ok_json(ctl("show", target=address))[address]
        assert [p["name"] for p in shown["providers"]] == ["group", "second"]
        assert shown["providers"][1]["dependencies"] == {"pool": "daemon_pool"}
        with Client("na+sm") as client:
            client.make_service_handle(address).shutdown()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
