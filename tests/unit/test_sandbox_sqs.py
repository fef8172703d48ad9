"""The SQS sandbox services' pure parts: argv, config and prerequisite errors (no servers)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from mqmigrate.errors import PrerequisiteError
from mqmigrate.sandbox.base import SandboxContext
from mqmigrate.sandbox.sqs import ElasticMQService, MotoService


@pytest.fixture
def ctx(tmp_path: Path) -> SandboxContext:
    return SandboxContext(
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        ports={"moto.http": 15000, "elasticmq.http": 19324},
    )


def test_moto_argv_names_its_state_dir(ctx: SandboxContext, monkeypatch) -> None:
    moto = MotoService(ctx)
    spawned: dict = {}
    monkeypatch.setattr(moto, "spawn", lambda argv, env=None: spawned.update(argv=argv, env=env))
    moto.start()
    # ``Service.pid`` only claims a process whose command line names the state dir
    assert any(str(moto.dir) in arg for arg in spawned["argv"])
    assert spawned["argv"][-4:] == ["-H", "127.0.0.1", "-p", "15000"]
    assert spawned["env"]["MOTO_PORT"] == "15000"
    assert (moto.dir / "moto_server.py").read_text().startswith('"""Written by mqmigrate')


def test_moto_install_names_the_pip_extra(ctx: SandboxContext, monkeypatch) -> None:
    real_import = importlib.import_module

    def no_moto_server(name: str, *args, **kwargs):
        if name == "moto.server":
            raise ImportError("No module named 'flask'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_moto_server)
    with pytest.raises(PrerequisiteError) as caught:
        MotoService(ctx).install()
    assert "pip install 'moto[server]'" in caught.value.one_line()


def test_elasticmq_config_binds_loopback_and_matches_queue_urls(ctx: SandboxContext) -> None:
    config = ElasticMQService(ctx)._config().read_text()
    assert 'include classpath("application.conf")' in config
    assert 'bind-hostname = "127.0.0.1"' in config
    assert config.count("port = 19324") == 2  # bind-port and node-address port
    assert 'region = "us-east-1"' in config


def test_elasticmq_argv_names_its_config(ctx: SandboxContext, monkeypatch) -> None:
    emq = ElasticMQService(ctx)
    spawned: dict = {}
    monkeypatch.setattr(emq, "classpath", lambda: "/jars/*")
    monkeypatch.setattr("mqmigrate.sandbox.sqs.require_java", lambda minimum=17: "java")
    monkeypatch.setattr(emq, "spawn", lambda argv: spawned.update(argv=argv))
    emq.start()
    assert f"-Dconfig.file={emq.dir / 'elasticmq.conf'}" in spawned["argv"]
    assert "-Xmx512m" in spawned["argv"]
    assert spawned["argv"][-1] == "org.elasticmq.server.Main"
