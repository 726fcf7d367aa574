"""The training side's own workloads (no chart of ours fits them): MLflow on Postgres, an in-cluster
S3-compatible object store, the landing of edge data into the object store, the retraining CronJob.

Every pod passes Pod Security `restricted` (non-root, no privilege escalation, all capabilities
dropped, RuntimeDefault seccomp, read-only root filesystem with emptyDirs where it writes), declares
requests and limits, probes, and Prometheus annotations where it exposes metrics. MLflow, Postgres,
MinIO, the landing and the retrain job run this repository's images (images/<name>, built here like the
sites').
"""

from __future__ import annotations

import json
from typing import Any

from edgeai.images import definitions

IMAGES = {
    # images/mlflow carries the Postgres driver and boto3 the official image lacks (mlflow/mlflow#9513),
    # so nothing is installed at pod start and MLflow needs no route to PyPI.
    # images/retrain is this repository's package with its retrain extra: the retrain job
    # (python -m edgeai.retrain) and the landing (python -m edgeai.retrain.lander).
    **{name: definitions.load(name).ref() for name in ("mlflow", "postgres", "minio", "retrain")},
}


def mirrored(template: dict[str, Any], mirror: str | None) -> dict[str, Any]:
    """A pod template whose images come from the environment's mirror (images.mirror), which
    replaces the registry and keeps the repository path and tag, as the charts' edgeai.image does."""
    if mirror:
        spec = template["spec"]
        for c in [*spec.get("initContainers", []), *spec["containers"]]:
            c["image"] = f"{mirror}/{c['image'].split('/', 1)[1]}"
    return template


PORTS = {"mlflow": 5000, "postgres": 5432, "minio": 9000, "landing": 4195}
GPU = "nvidia.com/gpu"
GPU_NODE_LABEL = "nvidia.com/gpu.present"   # set by NVIDIA GPU feature discovery


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str, *, disk: str, disk_limit: str,
              gpu: int = 0) -> dict[str, Any]:
    """Requests and limits; `disk` is ephemeral storage (logs, the writable layer and the pod's
    emptyDirs, whose sizeLimits the limits of the pod's containers cover: EAI-RES-004)."""
    out = {"requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": disk},
           "limits": {"cpu": cpu_limit, "memory": memory_limit, "ephemeral-storage": disk_limit}}
    if gpu:
        out["limits"][GPU] = str(gpu)
    return out


def pod_security(uid: int) -> dict[str, Any]:
    return {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"}}


CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}


def container(name: str, image: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "securityContext": dict(CONTAINER_SECURITY), **fields}


def env_from_secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def http_probe(path: str, port: int, period: int = 10, failures: int = 3) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "failureThreshold": failures}


def metrics_annotations(port: int, path: str = "/metrics") -> dict[str, str]:
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": path}


def empty_dir(name: str, size: str = "256Mi") -> dict[str, Any]:
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def pod_template(labels: dict[str, str], containers: list[dict[str, Any]], *, uid: int,
                 volumes: list[dict[str, Any]], init: list[dict[str, Any]] | None = None,
                 annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"labels": labels, "annotations": annotations or {}},
        "spec": {"automountServiceAccountToken": False, "enableServiceLinks": False,
                 "securityContext": pod_security(uid), "initContainers": init or [],
                 "containers": containers, "volumes": volumes, **spec},
    }


def mlflow_allowed_hosts(namespace: str) -> str:
    """The Host headers MLflow answers (--allowed-hosts; since MLflow 3 it refuses others with 403,
    against DNS rebinding): its Service's names in the cluster, and localhost for a port-forward.
    Kubelet's probes (Host: the pod IP) reach /health, which the check exempts."""
    names = ["mlflow", f"mlflow.{namespace}", f"mlflow.{namespace}.svc", f"mlflow.{namespace}.svc.cluster.local",
             "localhost", "127.0.0.1"]
    return ",".join(f"{n}:*" for n in names)


def mlflow_pod(labels: dict[str, str], *, namespace: str, artifacts: str, object_store_endpoint: str,
               db_secret: str, store_secret: str, bucket: str) -> dict[str, Any]:
    """MLflow tracking server + model registry: Postgres backend, artifacts proxied to the object store.
    The `buckets` init container creates the environment's bucket when it is missing."""
    port = PORTS["mlflow"]
    s3_env = [
        {"name": "MLFLOW_S3_ENDPOINT_URL", "value": object_store_endpoint},
        env_from_secret("AWS_ACCESS_KEY_ID", store_secret, "access-key-id"),
        env_from_secret("AWS_SECRET_ACCESS_KEY", store_secret, "secret-access-key"),
        {"name": "HOME", "value": "/tmp"},
    ]
    # The object store may start after MLflow (same apply): wait for it rather than crash-loop.
    ensure_bucket = (
        "import boto3, botocore.exceptions as e, os, time\n"
        "s3 = boto3.client('s3', endpoint_url=os.environ['MLFLOW_S3_ENDPOINT_URL'])\n"
        "for attempt in range(120):\n"
        f"    try:\n        s3.head_bucket(Bucket={bucket!r})\n        break\n"
        f"    except e.ClientError:\n        s3.create_bucket(Bucket={bucket!r})\n        break\n"
        "    except e.EndpointConnectionError:\n        time.sleep(5)\n"
        "else:\n    raise SystemExit('the object store did not answer in 10 minutes')\n"
    )
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    init = [
        container("buckets", IMAGES["mlflow"], command=["python", "-c", ensure_bucket], env=s3_env,
                  volumeMounts=mounts, resources=resources("50m", "128Mi", "500m", "256Mi", disk="64Mi",
                                                           disk_limit="2Gi")),
    ]
    server = container(
        "mlflow", IMAGES["mlflow"],
        command=["mlflow", "server", "--host", "0.0.0.0", "--port", str(port), "--workers", "2",
                 "--serve-artifacts", "--artifacts-destination", artifacts,
                 "--allowed-hosts", mlflow_allowed_hosts(namespace)],
        env=[env_from_secret("MLFLOW_BACKEND_STORE_URI", db_secret, "uri"), *s3_env],
        ports=[{"name": "http", "containerPort": port}],
        readinessProbe=http_probe("/health", port), livenessProbe=http_probe("/health", port, 20, 6),
        startupProbe=http_probe("/health", port, 5, 60),
        resources=resources("250m", "512Mi", "2", "2Gi", disk="1Gi", disk_limit="3Gi"), volumeMounts=mounts)
    return pod_template(labels, [server], uid=10001, init=init,
                        volumes=[empty_dir("tmp", "1Gi")],
                        annotations=metrics_annotations(port))


def postgres_pod(labels: dict[str, str], *, db_secret: str) -> dict[str, Any]:
    port = PORTS["postgres"]
    ready = {"exec": {"command": ["pg_isready", "-U", "mlflow", "-d", "mlflow", "-h", "127.0.0.1"]},
             "periodSeconds": 10, "failureThreshold": 6}
    db = container(
        "postgres", IMAGES["postgres"],
        env=[{"name": "POSTGRES_USER", "value": "mlflow"}, {"name": "POSTGRES_DB", "value": "mlflow"},
             env_from_secret("POSTGRES_PASSWORD", db_secret, "password"),
             {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
        ports=[{"name": "postgres", "containerPort": port}],
        readinessProbe=ready, livenessProbe={**ready, "periodSeconds": 20},
        resources=resources("250m", "512Mi", "1", "1Gi", disk="256Mi", disk_limit="1Gi"),
        volumeMounts=[{"name": "data", "mountPath": "/var/lib/postgresql/data"},
                      {"name": "run", "mountPath": "/var/run/postgresql"},
                      {"name": "tmp", "mountPath": "/tmp"}])
    # No exporter: MLflow's health is the signal (a postgres_exporter sidecar would be the next step).
    return pod_template(labels, [db], uid=999, volumes=[empty_dir("run", "16Mi"), empty_dir("tmp")],
                        annotations={"prometheus.io/scrape": "false"})


def minio_pod(labels: dict[str, str], *, store_secret: str) -> dict[str, Any]:
    port = PORTS["minio"]
    store = container(
        "minio", IMAGES["minio"], args=["server", "/data", "--address", f":{port}", "--console-address", ":9001"],
        env=[env_from_secret("MINIO_ROOT_USER", store_secret, "access-key-id"),
             env_from_secret("MINIO_ROOT_PASSWORD", store_secret, "secret-access-key"),
             {"name": "MINIO_PROMETHEUS_AUTH_TYPE", "value": "public"}, {"name": "HOME", "value": "/tmp"}],
        ports=[{"name": "s3", "containerPort": port}, {"name": "console", "containerPort": 9001}],
        readinessProbe=http_probe("/minio/health/ready", port),
        livenessProbe=http_probe("/minio/health/live", port, 20, 6),
        resources=resources("250m", "512Mi", "2", "2Gi", disk="256Mi", disk_limit="1Gi"),
        volumeMounts=[{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}])
    return pod_template(labels, [store], uid=1000, volumes=[{"name": "data", "persistentVolumeClaim":
                                                               {"claimName": "object-store"}}, empty_dir("tmp")],
                        annotations=metrics_annotations(port, "/minio/v2/metrics/cluster"))


def landing_pod(labels: dict[str, str], *, bootstrap: str, topics: tuple[str, ...], bucket: str, endpoint: str,
                prefix: str, store_secret: str, batch_seconds: int = 60) -> dict[str, Any]:
    """The landing (python -m edgeai.retrain.lander in the retrain image): consume the mirrored edge topics
    (<site>.<topic>) from the cloud Kafka, write batches of JSON lines to
    s3://<bucket>/<prefix>/<site>.<topic>/dt=<day>/<nanos>.jsonl, commit only what is stored."""
    port = PORTS["landing"]
    landing = container(
        "landing", IMAGES["retrain"],
        command=["python", "-m", "edgeai.retrain.lander", "--bootstrap", bootstrap, "--bucket", bucket,
                 "--prefix", prefix, "--endpoint", endpoint, "--batch-seconds", str(batch_seconds),
                 "--port", str(port), *[a for t in topics for a in ("--topic", t)]],
        env=[env_from_secret("AWS_ACCESS_KEY_ID", store_secret, "access-key-id"),
             env_from_secret("AWS_SECRET_ACCESS_KEY", store_secret, "secret-access-key"),
             {"name": "HOME", "value": "/tmp"}],
        ports=[{"name": "http", "containerPort": port}],
        readinessProbe=http_probe("/ready", port), livenessProbe=http_probe("/ping", port, 20, 6),
        resources=resources("100m", "128Mi", "1", "512Mi", disk="128Mi", disk_limit="1Gi"),
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])
    return pod_template(labels, [landing], uid=10001, volumes=[empty_dir("tmp")],
                        annotations=metrics_annotations(port))


def retrain_job_template(labels: dict[str, str], *, registry: str, object_store_endpoint: str,
                         landing_uri: str, store_secret: str, models: list[dict[str, Any]]) -> dict[str, Any]:
    """The retraining Job: `python -m edgeai.retrain` (src/edgeai/retrain, docs/retrain.md) over every model
    whose file declares `retrain:`, passed as JSON (name, framework, retrain): it trains on the landed data,
    compares with the newest registered version and registers a new one in MLflow only when it is better
    by the model's margin. On GPU nodes (node selector + toleration), one nvidia.com/gpu, for the
    frameworks that use one (the scikit-learn trainer does not)."""
    specs = [json.dumps({k: m[k] for k in ("name", "framework", "retrain")}, sort_keys=True,
                        separators=(",", ":")) for m in models]
    command = ["python", "-m", "edgeai.retrain", "--landing", landing_uri,
               *[arg for spec in specs for arg in ("--spec", spec)]]
    job = container(
        "retrain", IMAGES["retrain"], command=command,
        env=[{"name": "MLFLOW_TRACKING_URI", "value": registry},
             {"name": "MLFLOW_S3_ENDPOINT_URL", "value": object_store_endpoint},
             {"name": "LANDING_URI", "value": landing_uri},
             env_from_secret("AWS_ACCESS_KEY_ID", store_secret, "access-key-id"),
             env_from_secret("AWS_SECRET_ACCESS_KEY", store_secret, "secret-access-key"),
             {"name": "HOME", "value": "/tmp"}],
        # Guaranteed QoS with whole CPUs: the static CPU manager pins them next to the GPU.
        resources=resources("4", "16Gi", "4", "16Gi", disk="20Gi", disk_limit="24Gi", gpu=1),
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}])
    template = pod_template(labels, [job], uid=1000, volumes=[empty_dir("tmp", "20Gi")],
                            restartPolicy="Never", nodeSelector={GPU_NODE_LABEL: "true"},
                            tolerations=[{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}])
    return {"backoffLimit": 1, "ttlSecondsAfterFinished": 86400, "template": template}
