"""The contract between an environment's training stack and its site stacks.

The training stack exports the endpoints below; each site stack reads them through a
`pulumi.StackReference` to `<org>/edgeai/<env>.training`.

Precedence: the environment's `cloud:` block (environments/<env>/environment.yaml) stays the
declared source of every endpoint the charts take (MirrorMaker target, remote write, log
shipping): the composition passes it, so `edgeai render`/`validate` and the Applications agree
without reading Pulumi state. The training stack exports the same declared values (it cannot know
public DNS names); where the environment declares an endpoint, the site stack requires the
training stack's output to be equal, and fails `pulumi up` when they differ (the two stacks were
deployed from different revisions). What the environment does not declare comes from the
training stack only: the object store's S3 endpoint, which the site stack writes into the
rclone.conf of the model-storage and redis-snapshot-storage Secrets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The bucket layout (one bucket per environment), shared with the composition and edgeai models promote.
from edgeai.catalog import EDGE_PREFIX, MLFLOW_PREFIX, RCLONE_REMOTE, SNAPSHOT_PREFIX, bucket_of  # noqa: F401

INGEST_ENDPOINT = "ingestEndpoint"            # Kafka bootstrap the sites' MirrorMaker 2 writes to
REGISTRY_URL = "registryUrl"                  # MLflow tracking server and model registry
OBJECT_STORE_URI = "objectStoreUri"           # s3://<bucket> of edge data, snapshots, artifacts
OBJECT_STORE_ENDPOINT = "objectStoreEndpoint"  # S3 API endpoint of that bucket
REMOTE_WRITE = "prometheusRemoteWrite"        # central Prometheus remote-write URL
ELASTICSEARCH = "elasticsearch"               # host:port of the central Elasticsearch

# environment.yaml cloud.<key> -> the training output that must equal it when declared.
DECLARED = {
    "kafkaBootstrap": INGEST_ENDPOINT,
    "objectStore": OBJECT_STORE_URI,
    "prometheusRemoteWrite": REMOTE_WRITE,
    "elasticsearch": ELASTICSEARCH,
}


def disagreements(cloud: Mapping[str, Any], outputs: Mapping[str, Any]) -> list[str]:
    """Declared cloud endpoints that the training stack's outputs contradict."""
    out = []
    for key, output in DECLARED.items():
        if key in cloud and outputs.get(output) != cloud[key]:
            out.append(f"environment cloud.{key} is {cloud[key]!r} but the training stack exports "
                       f"{output}={outputs.get(output)!r}")
    return out


def check_agreement(environment: str, cloud: Mapping[str, Any], outputs: Mapping[str, Any]) -> bool:
    problems = disagreements(cloud, outputs)
    if problems:
        raise ValueError(f"environment {environment}: the training stack disagrees with "
                         "environment.yaml (deploy both from the same revision):\n  " + "\n  ".join(problems))
    return True


def rclone_conf(endpoint: str, access_key_id: str, secret_access_key: str) -> str:
    """rclone configuration with the remote `s3` (S3-compatible, path-style) for the charts' rclone."""
    return "\n".join([
        f"[{RCLONE_REMOTE}]",
        "type = s3",
        "provider = Other",
        f"endpoint = {endpoint}",
        f"access_key_id = {access_key_id}",
        f"secret_access_key = {secret_access_key}",
        "force_path_style = true",
        "",
    ])
