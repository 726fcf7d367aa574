"""The kind provider's config, generated from the site file (kind itself cannot run here)."""

from __future__ import annotations

import pytest
import yaml

from edgeai import fleet
from edgeai.cluster import kind, nodes

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
