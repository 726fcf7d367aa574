"""`edgeai cluster up|down|status` and `edgeai up` parse as documented (no cluster needed)."""

from __future__ import annotations

import argparse

import pytest

from edgeai import cluster_cli


@pytest.fixture
def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="edgeai")
    top.add_argument("--environments", default=None)
    cluster_cli.add_parsers(top.add_subparsers(dest="command", required=True))
    return top


def test_cluster_actions_and_defaults(parser) -> None:
    args = parser.parse_args(["cluster", "up", "--provider", "local"])
    assert (args.action, args.provider, args.env, args.site, args.name) == ("up", "local", "local", None, None)
    assert args.func is cluster_cli.cmd_cluster_up
    assert parser.parse_args(["cluster", "down", "--name", "x"]).func is cluster_cli.cmd_cluster_down
    assert parser.parse_args(["cluster", "status"]).func is cluster_cli.cmd_cluster_status


def test_up_options(parser) -> None:
    args = parser.parse_args(["up", "--env", "staging", "--site", "stg-us-1", "--release", "redis",
                              "--release", "kafka", "--timeout", "2m"])
    assert (args.env, args.site, args.release, args.timeout) == ("staging", "stg-us-1", ["redis", "kafka"], "2m")
    assert args.func is cluster_cli.cmd_up


def test_unknown_provider_is_a_usage_error(parser) -> None:
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["cluster", "up", "--provider", "minikube"])
    assert done.value.code == 2


def test_a_site_must_be_named_when_the_environment_has_several(parser, capsys) -> None:
    from edgeai.problems import InputErrors
    with pytest.raises(InputErrors) as err:
        cluster_cli._site(parser.parse_args(["cluster", "status", "--env", "staging"]))
    assert "has 3 sites; say which with --site" in str(err.value.problems[0])
