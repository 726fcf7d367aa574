"""edgeai.images.pin, the helm post-renderer of `edgeai up`: the site registry's images by digest, but
never the model artifact's fetcher, which Git owns (a promotion changes it)."""

from __future__ import annotations

import yaml

from edgeai.images import pin

HOST = "localhost:5001"
MANIFEST = f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: model}}
spec:
  template:
    spec:
      initContainers:
        - {{name: fetch-model, image: {HOST}/edgeai-platform/models/sensor-anomaly:v3}}
        - {{name: other, image: {HOST}/edgeai-platform/rclone:1.60.1}}
      containers:
        - {{name: mlserver, image: {HOST}/edgeai-platform/mlserver:1.7.1}}
        - {{name: elsewhere, image: ghcr.io/edgeai-platform/nginx:1.22.1}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {{name: job}}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {{name: run, image: {HOST}/edgeai-platform/redis:7.0.15}}
---
apiVersion: v1
kind: Service
metadata: {{name: svc}}
spec: {{ports: [{{port: 80}}]}}
"""


def test_pins_the_registry_images_but_not_the_model_artifacts_fetcher(monkeypatch) -> None:
    asked = []
    monkeypatch.setattr(pin.registry, "served_digest", lambda ref: asked.append(ref) or "sha256:" + "a" * 64)
    docs = list(yaml.safe_load_all(pin.pin(MANIFEST, HOST)))
    pod = docs[0]["spec"]["template"]["spec"]
    assert pod["initContainers"][0]["image"] == f"{HOST}/edgeai-platform/models/sensor-anomaly:v3"
    assert pod["initContainers"][1]["image"].endswith("rclone:1.60.1@sha256:" + "a" * 64)
    assert pod["containers"][0]["image"].endswith("mlserver:1.7.1@sha256:" + "a" * 64)
    assert pod["containers"][1]["image"] == "ghcr.io/edgeai-platform/nginx:1.22.1"
    job = docs[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["image"].endswith("redis:7.0.15@sha256:" + "a" * 64)
    assert docs[2] == yaml.safe_load(MANIFEST.split("---")[2])
    assert len(asked) == len(set(asked)) == 3          # each reference asked once


def test_an_image_the_registry_does_not_serve_is_left_as_it_is(monkeypatch) -> None:
    monkeypatch.setattr(pin.registry, "served_digest", lambda ref: None)
    assert list(yaml.safe_load_all(pin.pin(MANIFEST, HOST))) == [d for d in yaml.safe_load_all(MANIFEST) if d]
