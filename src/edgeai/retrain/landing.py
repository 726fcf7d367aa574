"""The landed edge data a retrain run reads: a directory or an s3:// prefix, laid out as the training
stack's landing (edgeai.retrain.lander) writes it:

    <root>/<site>.<topic>/dt=<YYYY-MM-DD>/<nanos>.jsonl     one Kafka message (a JSON object) per line

A prediction record (topic `predictions`):

    {"model": "sensor-anomaly", "model_version": "3", "features": [avg, min, max, std, last],
     "prediction": 0.93, "confidence": 0.86, "label": 1.0, "ts": 1767225600000, "site": "lyon-store-007"}

`features` and `prediction` are required; `confidence` (in [0, 1]) defaults to |2*prediction - 1|
for a score in [0, 1]; `label` is present only when known (see edgeai.retrain); `ts` (epoch ms,
else `predictedAt`) orders the records. Siddhi's JSON mapper wraps events as {"event": {...}}: the
envelope is unwrapped. The shipped Siddhi app (charts/siddhi) writes these records, with sensorId,
site and eventTime besides, to the topics `predictions` and `predictions-low-confidence`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

TOPIC = "predictions"


@dataclass(frozen=True)
class Record:
    features: tuple[float, ...]
    prediction: float
    confidence: float | None
    label: float | None
    ts: int | None
    model_version: str | None
    origin: str            # file (or object key) and line, for error messages


class BadRecord(ValueError):
    pass


def confidence_of(prediction: float) -> float | None:
    """The distance of a score in [0, 1] from the 0.5 decision boundary, scaled to [0, 1]."""
    return abs(2 * prediction - 1) if 0.0 <= prediction <= 1.0 else None


def parse(line: str, origin: str) -> tuple[str | None, Record]:
    """(model name or None, record) of one landed line."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError as err:
        raise BadRecord(f"{origin}: not JSON: {err}") from None
    if isinstance(doc, dict) and isinstance(doc.get("event"), dict) and len(doc) == 1:
        doc = doc["event"]
    if not isinstance(doc, dict) or "features" not in doc or "prediction" not in doc:
        raise BadRecord(f"{origin}: a prediction record needs `features` and `prediction`")
    try:
        features = tuple(float(v) for v in doc["features"])
        prediction = float(doc["prediction"])
        confidence = doc.get("confidence")
        confidence = confidence_of(prediction) if confidence is None else float(confidence)
        label = doc.get("label")
        label = None if label is None else float(label)
        ts = doc.get("ts", doc.get("predictedAt"))
        ts = None if ts is None else int(ts)
    except (TypeError, ValueError) as err:
        raise BadRecord(f"{origin}: {err}") from None
    version = doc.get("model_version")
    return doc.get("model"), Record(features, prediction, confidence, label, ts,
                                    None if version is None else str(version), origin)


class Source(Protocol):
    def files(self, topic: str) -> Iterator[tuple[str, str]]:
        """(name, text) of every landed file of `topic`, in name order."""


def _of_topic(relative: str, topic: str) -> bool:
    return relative.split("/", 1)[0].endswith(f".{topic}") and relative.endswith(".jsonl")


@dataclass(frozen=True)
class DirectorySource:
    root: Path

    def files(self, topic: str) -> Iterator[tuple[str, str]]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"no landed data at {self.root}: not a directory")
        for path in sorted(self.root.rglob("*.jsonl")):
            relative = path.relative_to(self.root).as_posix()
            if _of_topic(relative, topic):
                yield relative, path.read_text()


@dataclass(frozen=True)
class S3Source:
    """An s3:// prefix; the endpoint from AWS_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL (MinIO), credentials
    from boto3's usual chain (the job's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)."""
    bucket: str
    prefix: str

    def files(self, topic: str) -> Iterator[tuple[str, str]]:
        import boto3  # the retrain extra; only s3:// needs it

        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")
        s3 = boto3.client("s3", endpoint_url=endpoint)
        base = self.prefix.rstrip("/") + "/" if self.prefix.strip("/") else ""
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base)
                for o in page.get("Contents", [])]
        for key in sorted(keys):
            if _of_topic(key[len(base):], topic):
                yield f"s3://{self.bucket}/{key}", s3.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode()


def source(uri: str) -> Source:
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://"):].partition("/")
        return S3Source(bucket, prefix)
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"landed data at {uri}: only a directory, file:// or s3:// is read")
    return DirectorySource(Path(uri.removeprefix("file://")))


def records(src: Source, model: str, topic: str = TOPIC) -> Iterator[Record]:
    """The model's prediction records (records naming no model are taken as the model's: a topic
    per model is also a layout)."""
    for name, text in src.files(topic):
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                owner, record = parse(line, f"{name}:{number}")
                if owner in (None, model):
                    yield record


def landed_files(records_by_file: dict[str, list[dict[str, Any]]], root: Path) -> None:
    """Write records as the landing would (tests, and seeding a directory by hand)."""
    for relative, docs in records_by_file.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(d) + "\n" for d in docs))
