"""The kind provider's config, generated from the site file; the mirrors and the docker wrapper it relies on."""

from __future__ import annotations

import subprocess
import tomllib

import pytest
import yaml

from edgeai import fleet, tools
from edgeai.cluster import kind, mirrors, nodes, unprivileged

ENVS = {e.name: e for e in fleet.load_fleet()}
# Fields of a node in kind's config API (sigs.k8s.io/kind/pkg/apis/config/v1alpha4, type Node).
KIND_NODE_FIELDS = {"role", "image", "labels", "extraMounts", "extraPortMappings", "kubeadmConfigPatches",
                    "kubeadmConfigPatchesJSON6902"}


def config(env: str, site: str, image: str = "kindest/node:v1.34.4") -> dict:
    e = ENVS[env]
    return kind.kind_config(e, e.sites[site], f"edgeai-{env}-{site}", image)


def test_one_control_plane_and_a_worker_per_declared_node() -> None:
    for env in ENVS.values():
        for site in env.sites.values():
            cfg = config(env.name, site.name)
            assert (cfg["kind"], cfg["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
            assert [n["role"] for n in cfg["nodes"]] == ["control-plane"] + ["worker"] * site.node_count
            for node in cfg["nodes"]:
                assert set(node) <= KIND_NODE_FIELDS and node["image"] == "kindest/node:v1.34.4"


def test_workers_carry_the_site_labels_but_not_the_kubelets_own() -> None:
    cfg = config("local", "local")
    labels = cfg["nodes"][1]["labels"]
    assert labels["edgeai.io/site"] == "local" and labels["topology.kubernetes.io/region"] == "local"
    assert not {"kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch"} & set(labels)
    assert "kubeadmConfigPatches" not in cfg["nodes"][1]
    # A kubelet may set kubernetes.io labels of these prefixes only (NodeRestriction).
    assert all(k.startswith(("topology.kubernetes.io/", "node.kubernetes.io/"))
               for k in labels if "kubernetes.io" in k)


def test_gpu_workers_get_gpu_labels_and_no_taint() -> None:
    site = ENVS["staging"].sites["stg-us-1"]
    for worker in config("staging", "stg-us-1")["nodes"][1:]:
        assert worker["labels"][nodes.GPU_PRESENT] == "true"
        assert worker["labels"][nodes.GPU_PRODUCT] == site.nodes["gpu"]["product"]
        assert worker["labels"][nodes.GPU_COUNT] == str(site.gpus_per_node)
        assert "kubeadmConfigPatches" not in worker  # every node of a GPU site has GPUs: nothing to keep off


def test_config_survives_yaml_round_trip() -> None:
    cfg = config("prod", "pit-plant-01")
    assert yaml.safe_load(yaml.safe_dump(cfg)) == cfg


def test_node_image_follows_the_environment_unless_overridden(monkeypatch) -> None:
    monkeypatch.delenv(kind.IMAGE_ENV, raising=False)
    assert kind.node_image(ENVS["local"]) == f"kindest/node:v{ENVS['local'].kubernetes_version}"
    monkeypatch.setenv(kind.IMAGE_ENV, "registry.example/kind-node:v1.34.4")
    assert kind.node_image(ENVS["local"]) == "registry.example/kind-node:v1.34.4"


@pytest.mark.parametrize("name", ["local-path", "fast-ssd"])
def test_site_storage_class_uses_kinds_provisioner_and_is_default(name) -> None:
    sc = kind.storage_class(name)
    assert sc["metadata"]["name"] == name and sc["provisioner"] == "rancher.io/local-path"
    assert sc["metadata"]["annotations"][kind.DEFAULT_CLASS] == "true"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"


def test_nodes_mount_the_mirror_hosts_and_containerd_reads_them(tmp_path) -> None:
    e = ENVS["local"]
    cfg = kind.kind_config(e, e.sites["local"], "edgeai-local-local", "img", mirrors_dir=tmp_path)
    for node in cfg["nodes"]:
        assert node["extraMounts"] == [{"hostPath": str(tmp_path), "containerPath": "/etc/containerd/certs.d",
                                        "readOnly": True}]
    patches = [tomllib.loads(p) for p in cfg["containerdConfigPatches"]]
    assert patches == [{"plugins": {"io.containerd.grpc.v1.cri": {"registry": {
        "config_path": "/etc/containerd/certs.d"}}}}]
    assert "networking" not in cfg   # kind's own CNI unless the image brings kube-router


def test_own_cni_disables_kinds_and_unprivileged_nodes_restrict_oom_scores() -> None:
    e = ENVS["local"]
    cfg = kind.kind_config(e, e.sites["local"], "n", "img", own_cni=True, unprivileged_nodes=True)
    assert cfg["networking"] == {"disableDefaultCNI": True}
    assert [tomllib.loads(p) for p in cfg["containerdConfigPatches"]] == [
        {"plugins": {"io.containerd.grpc.v1.cri": {"restrict_oom_score_adj": True}}}]


def test_mirrors_parse_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(mirrors.MIRRORS_ENV, "docker.io=http://edgeai-registry:5000/, "
                                            "registry.edgeai.local:5000=http://edgeai-registry:5000")
    assert mirrors.from_env() == {"docker.io": "http://edgeai-registry:5000",
                                  "registry.edgeai.local:5000": "http://edgeai-registry:5000"}
    monkeypatch.delenv(mirrors.MIRRORS_ENV)
    assert mirrors.from_env() == {}
    with pytest.raises(ValueError, match="registry=http"):
        mirrors.parse("docker.io")


def test_hosts_toml_tries_the_mirror_then_upstream(tmp_path) -> None:
    mirrors.write_hosts(tmp_path, {"docker.io": "http://edgeai-registry:5000", "ghcr.io": "https://m.example"})
    hub = tomllib.loads((tmp_path / "docker.io" / "hosts.toml").read_text())
    assert hub == {"server": "https://registry-1.docker.io",
                   "host": {"http://edgeai-registry:5000": {"capabilities": ["pull", "resolve"]}}}
    ghcr = tomllib.loads((tmp_path / "ghcr.io" / "hosts.toml").read_text())
    assert ghcr["server"] == "https://ghcr.io" and ghcr["host"]["https://m.example"]["skip_verify"] is True
    # Rewritten in place (the directory is mounted into running nodes): a dropped mirror goes.
    mirrors.write_hosts(tmp_path, {"ghcr.io": "https://m.example"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ghcr.io"]


def test_cni_manifest_runs_the_pinned_kube_router_without_its_service_proxy() -> None:
    objects = {o["kind"]: o for o in kind.cni_manifest()}
    pod = objects["DaemonSet"]["spec"]["template"]["spec"]
    version = tools.pinned_versions()["KUBE_ROUTER_VERSION"]
    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {
        f"docker.io/edgeai/kube-router:{version}"}
    assert "--run-firewall=true" in pod["containers"][0]["args"]
    assert "--run-service-proxy=false" in pod["containers"][0]["args"]   # kube-proxy keeps the Services


def test_docker_wrapper_replaces_privileged_only(tmp_path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text('#!/bin/sh\nfor a do echo "$a"; done\n')
    (fake / "docker").chmod(0o755)
    env = unprivileged.environ(tmp_path / "wrapper", {"PATH": f"{fake}:/usr/bin:/bin"})

    def docker(*args: str) -> list[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, env=env,
                              check=True).stdout.splitlines()

    run = docker("run", "--name", "a b", "--privileged", "--security-opt", "seccomp=unconfined", "img")
    assert "--privileged" not in run and run[:3] == ["run", "--name", "a b"] and run[-1] == "img"
    assert {"--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--volume", "/dev/kmsg:/dev/kmsg"} <= set(run)
    assert run[run.index("--entrypoint") + 1] == unprivileged.NODE_ENTRYPOINT
    assert docker("exec", "--privileged", "node", "true") == ["exec", "node", "true"]
    assert docker("ps", "-a") == ["ps", "-a"]
