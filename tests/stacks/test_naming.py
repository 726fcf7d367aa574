"""Stack names, stack settings files and `edgeai stacks --env E`."""

from __future__ import annotations

import argparse
import os
import threading

import pytest
import yaml
from stack_cases import ENVS

from edgeai import paths, stacks_cli
from edgeai import stacks as naming
from edgeai.problems import InputErrors


@pytest.mark.parametrize(("name", "env", "site"), [
    ("prod.fra-store-001", "prod", "fra-store-001"),
    ("prod.training", "prod", None),
    ("organization/edgeai/staging.stg-eu-1", "staging", "stg-eu-1"),
    ("acme/edgeai/local.training", "local", None),
])
def test_stack_names_parse(name, env, site) -> None:
    parsed = naming.parse(name)
    assert (parsed.environment, parsed.site) == (env, site)
    assert str(parsed) == name.rsplit("/", 1)[-1]


@pytest.mark.parametrize("name", ["prod", "prod.", ".site", "prod.fra.001", ""])
def test_malformed_stack_names_are_refused(name) -> None:
    with pytest.raises(InputErrors, match="is not <env>.training or <env>.<site>"):
        naming.parse(name)


def test_every_environment_has_a_training_stack_and_one_per_site() -> None:
    for env in ENVS.values():
        stacks = naming.stacks_of(env)
        assert str(stacks[0]) == f"{env.name}.training"
        assert [s.site for s in stacks[1:]] == sorted(env.sites)


def test_training_stack_reference_name() -> None:
    assert naming.training_stack("prod") == "organization/edgeai/prod.training"
    assert naming.training_stack("prod", org="acme") == "acme/edgeai/prod.training"


def test_settings_files_live_in_the_stack_config_dir() -> None:
    pulumi_yaml = yaml.safe_load((paths.ROOT / "Pulumi.yaml").read_text())
    assert pulumi_yaml["stackConfigDir"].rstrip("/") == str(naming.SETTINGS_DIR)
    assert pulumi_yaml["main"].rstrip("/") == "stacks"
    assert pulumi_yaml["runtime"]["name"] == "python"
    name = naming.StackName("prod", "fra-store-001")
    assert naming.settings_path(name) == paths.ROOT / "stacks" / "config" / "Pulumi.prod.fra-store-001.yaml"


@pytest.mark.parametrize("name", [naming.StackName("prod", "fra-store-001"), naming.StackName("prod")], ids=str)
def test_settings_text_is_minimal_and_names_every_secret(name) -> None:
    text = naming.settings_text(name)
    assert yaml.safe_load(text) == {"config": {}}          # no values, only the comment
    for key in naming.config_keys(name):
        flag = "--secret " if key.secret else ""
        assert f"pulumi config set {flag}--stack {name} {key.full} " in text
    assert f"pulumi stack select --create {name}" in text
    if name.is_training:
        assert "edgeai:postgresPassword" in text
    else:
        assert "pulumi config set --secret --stack prod.fra-store-001 edgeai:redisPassword" in text


def test_ensure_settings_creates_once_and_never_overwrites(tmp_path) -> None:
    name = naming.StackName("prod", "fra-store-001")
    path, created = naming.ensure_settings(name, root=tmp_path)
    assert created and path == tmp_path / "stacks" / "config" / "Pulumi.prod.fra-store-001.yaml"
    assert path.read_text() == naming.settings_text(name)
    path.write_text("encryptionsalt: v1:abc\nconfig:\n  edgeai:redisPassword:\n    secure: v1:xyz\n")
    again, created = naming.ensure_settings(name, root=tmp_path)
    assert again == path and not created
    assert "secure: v1:xyz" in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == [path.name]     # no temporary file left behind


def test_ensure_settings_is_safe_under_concurrency(tmp_path) -> None:
    name = naming.StackName("staging", "stg-eu-1")
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(naming.ensure_settings(name, root=tmp_path)[1]))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert os.listdir(tmp_path / "stacks" / "config") == ["Pulumi.staging.stg-eu-1.yaml"]


def _cli(argv: list[str]) -> int:
    top = argparse.ArgumentParser(prog="edgeai")
    top.add_argument("--environments", default=None)
    sub = top.add_subparsers(dest="command", required=True)
    stacks_cli.add_parser(sub)
    args = top.parse_args(argv)
    return args.func(args)


def test_edgeai_stacks_lists_and_creates(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    env = ENVS["staging"]
    assert _cli(["stacks", "--env", "staging", "--no-create"]) == 0
    out = capsys.readouterr().out
    assert out.count("missing") == len(env.sites) + 1 and not (tmp_path / "stacks").exists()

    assert _cli(["stacks", "--env", "staging"]) == 0
    out = capsys.readouterr().out
    assert "staging.training  training  created" in out
    for site in env.sites:
        assert f"staging.{site}" in out
        assert (tmp_path / "stacks" / "config" / f"Pulumi.staging.{site}.yaml").is_file()
    assert f"{len(env.sites) + 1} settings file(s) created" in out

    assert _cli(["stacks", "--env", "staging"]) == 0
    out = capsys.readouterr().out
    assert "created" not in out.split("\n")[0] and "0 settings file(s) created" in out


def test_edgeai_stacks_of_an_unknown_environment_is_an_input_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    with pytest.raises(InputErrors, match="no environment 'nope'"):
        _cli(["stacks", "--env", "nope"])


def test_a_site_named_training_is_refused(monkeypatch) -> None:
    import copy

    env = copy.deepcopy(ENVS["local"])
    env.sites[naming.TRAINING] = env.sites["local"]
    with pytest.raises(InputErrors, match="may not be named 'training'"):
        naming.stacks_of(env)
