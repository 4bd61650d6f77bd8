"""mochi.bedrock.local.deploy: running the `bedrock` program from a ProcSpec."""

import json
import os

import pytest

from mochi.bedrock.client import Client
from mochi.bedrock.local import deploy
from mochi.bedrock.spec import ProcSpec, ProviderSpec
from mochi.flock.view import GroupView


def group_spec(groupfile):
    proc = ProcSpec(margo="na+sm", libraries=["libflock-bedrock-module.so"])
    proc.providers.add(name="group", type="flock", provider_id=1,
                       config={"bootstrap": "self", "group": {"type": "static"},
                               "file": str(groupfile)})
    return proc


def test_deploy_daemon(tmp_path, bedrock_binary, wait_for_file):
    groupfile = tmp_path / "group.flock"
    spec = group_spec(groupfile)
    process = deploy(spec, bedrock_binary=bedrock_binary, log_level="error",
                     workdir=str(tmp_path), daemon=True, output=False)
    try:
        assert wait_for_file(groupfile, process), "the daemon did not write its group file"
        # the config was written to a bedrock-*.json in workdir
        written = [f for f in os.listdir(tmp_path)
                   if f.startswith("bedrock-") and f.endswith(".json")]
        assert len(written) == 1
        assert json.loads((tmp_path / written[0]).read_text()) == spec.to_dict()
        # the daemon runs the spec: its config, read back as a ProcSpec
        address = GroupView.from_file(str(groupfile)).members[0].address
        with Client("na+sm") as client:
            handle = client.make_service_handle(address)
            running = handle.spec
            assert running.providers["group"].provider_id == 1
            assert running.margo.mercury.address == address
            handle.shutdown()
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_deploy_foreground_failure_and_output(tmp_path, capfd, bedrock_binary):
    spec = ProcSpec(margo="na+sm")
    spec.providers.append(ProviderSpec(name="bad", type="module_invalid", provider_id=3))
    config_file = tmp_path / "given.json"
    status = deploy(spec, bedrock_binary=bedrock_binary, config_file_name=str(config_file),
                    workdir=str(tmp_path))
    assert status != 0                                  # it could not start
    assert json.loads(config_file.read_text()) == spec.to_dict()
    assert not [f for f in os.listdir(tmp_path) if f.startswith("bedrock-")]
    out, err = capfd.readouterr()
    assert "module_invalid" in out + err                # output=True: the daemon's own
    deploy(spec, bedrock_binary=bedrock_binary, config_file_name=str(config_file), output=False)
    out, err = capfd.readouterr()
    assert "module_invalid" not in out + err


def test_deploy_rejects_bad_arguments(tmp_path):
    spec = ProcSpec(margo="na+sm")
    with pytest.raises(TypeError):
        deploy(spec.to_dict(), workdir=str(tmp_path))
    with pytest.raises(ValueError, match="log_level"):
        deploy(spec, log_level="loud", workdir=str(tmp_path))
    spec.providers.add(name="p", type="t")          # provider id 0 is Bedrock's
    with pytest.raises(ValueError):
        deploy(spec, workdir=str(tmp_path))
    with pytest.raises(FileNotFoundError):
        deploy(ProcSpec(margo="na+sm"), bedrock_binary=str(tmp_path / "no-bedrock"),
               workdir=str(tmp_path))
    # nothing was left behind by the refused or failed deployments
    assert list(tmp_path.glob("bedrock-*.json")) == []
