"""The landing: mirrored edge topics from the cloud Kafka into the object store, where retraining reads them.

`python -m edgeai.retrain.lander` (the training stack's `landing` Deployment) consumes every topic that
MirrorMaker 2 made of a site's topic (`<site>.<topic>`, e.g. `lyon-007.predictions`) and writes each
batch as one object of JSON lines, in the layout edgeai.retrain.landing reads:

    s3://<bucket>/<prefix>/<site>.<topic>/dt=<YYYY-MM-DD>/<nanoseconds>.jsonl

A batch is written when it holds `--batch-count` records or its first record waited `--batch-seconds`;
the consumer group's offsets are committed only after the object is stored, so a crash or a store
outage replays records (at-least-once, as MirrorMaker itself) and never loses one. A record that is
not one line of UTF-8 JSON is counted and skipped: one bad producer does not stop the landing.
GET /ready (consumer assigned), /ping, /metrics (Prometheus text) on --port.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOPICS = ("predictions", "predictions-low-confidence")
NEWLINE = b"\n"


def topic_pattern(topics: tuple[str, ...]) -> str:
    """A librdkafka regex subscription (leading ^) to `<site>.<topic>` for each of `topics`."""
    return r"^[a-z0-9-]+\.(" + "|".join(t.replace(".", r"\.") for t in topics) + r")$"


def object_key(prefix: str, topic: str, now_ns: int) -> str:
    day = datetime.fromtimestamp(now_ns / 1e9, tz=UTC).strftime("%Y-%m-%d")
    return f"{prefix.strip('/')}/{topic}/dt={day}/{now_ns}.jsonl"


def as_line(value: bytes | None) -> str | None:
    """One JSON line of a record's value, or None when it is not JSON."""
    if value is None:
        return None
    try:
        doc = json.loads(value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)


@dataclass
class Stats:
    records: int = 0
    skipped: int = 0
    objects: int = 0
    store_errors: int = 0
    assigned: bool = False

    def text(self) -> str:
        return "".join(f"# TYPE edgeai_landing_{name} counter\nedgeai_landing_{name}_total {value}\n"
                       for name, value in (("records", self.records), ("skipped_records", self.skipped),
                                           ("objects", self.objects), ("store_errors", self.store_errors)))


@dataclass
class Batches:
    """Lines per topic since the last write, with the time their first line arrived."""
    count: int
    seconds: float
    lines: dict[str, list[str]] = field(default_factory=dict)
    started: float | None = None

    def add(self, topic: str, line: str, now: float) -> None:
        self.lines.setdefault(topic, []).append(line)
        self.started = now if self.started is None else self.started

    def due(self, now: float) -> bool:
        held = sum(len(v) for v in self.lines.values())
        return held >= self.count or (held > 0 and self.started is not None and now - self.started >= self.seconds)



def flush(batches: Batches, put: Callable[[str, bytes], None], commit: Callable[[], None], prefix: str,
          stats: Stats) -> None:
    """Write every topic's lines as one object, then commit the offsets. A failed put raises with the
    unwritten topics still held (written again on the next try) and the offsets where they were."""
    for topic in sorted(batches.lines):
        lines = batches.lines[topic]
        put(object_key(prefix, topic, time.time_ns()), ("\n".join(lines) + "\n").encode())
        stats.objects += 1
        del batches.lines[topic]
    if batches.started is not None:
        commit()
        batches.started = None


def serve(port: int, stats: Stats) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/metrics":
                status, body = 200, stats.text()
            elif self.path == "/ready":
                status, body = (200, "ready\n") if stats.assigned else (503, "not assigned yet\n")
            elif self.path == "/ping":
                status, body = 200, "pong\n"
            else:
                status, body = 404, "not found\n"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:   # probes every few seconds: not worth a log line
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m edgeai.retrain.lander", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", required=True, help="the cloud Kafka's internal bootstrap (host:port)")
    p.add_argument("--bucket", required=True)
    p.add_argument("--prefix", default="edge")
    p.add_argument("--endpoint", default=os.environ.get("S3_ENDPOINT_URL"),
                   help="S3 endpoint (in-cluster MinIO); unset: AWS")
    p.add_argument("--topic", action="append", dest="topics", help=f"edge topic to land (default: {', '.join(TOPICS)})")
    p.add_argument("--group", default="edgeai-landing")
    p.add_argument("--batch-count", type=int, default=10000)
    p.add_argument("--batch-seconds", type=float, default=60.0)
    p.add_argument("--port", type=int, default=4195)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import boto3
    import botocore.exceptions
    from confluent_kafka import Consumer, KafkaError, KafkaException

    args = parse_args(argv)
    topics = tuple(args.topics or TOPICS)
    stats = Stats()
    server = serve(args.port, stats)
    s3 = boto3.client("s3", endpoint_url=args.endpoint)
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         # a new <site>.<topic> (a site joined) is picked up within a minute
                         "topic.metadata.refresh.interval.ms": 30000})
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())

    def on_assign(_consumer, partitions) -> None:
        stats.assigned = True
        print(f"landing: assigned {', '.join(sorted({p.topic for p in partitions})) or 'nothing yet'}", flush=True)

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket=args.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        print(f"landing: s3://{args.bucket}/{key} ({body.count(NEWLINE)} records)", flush=True)

    consumer.subscribe([topic_pattern(topics)], on_assign=on_assign)
    stats.assigned = True   # subscribed; an empty cloud has nothing to assign yet and is still ready
    batches = Batches(args.batch_count, args.batch_seconds)
    print(f"landing: {topic_pattern(topics)} from {args.bootstrap} -> s3://{args.bucket}/{args.prefix}/", flush=True)
    try:
        while not stopping.is_set():
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                line = as_line(msg.value())
                if line is None:
                    stats.skipped += 1
                else:
                    stats.records += 1
                    batches.add(msg.topic(), line, time.monotonic())
            elif msg is not None and msg.error().code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                # (no site has mirrored anything yet: not worth a line a second)
                print(f"landing: {msg.error()}", file=sys.stderr, flush=True)
            if batches.due(time.monotonic()):
                try:
                    flush(batches, put, lambda: consumer.commit(asynchronous=False), args.prefix, stats)
                except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, KafkaException) as err:
                    stats.store_errors += 1      # the lines are still held: written on the next try
                    print(f"landing: batch not stored, will retry: {err}", file=sys.stderr, flush=True)
                    time.sleep(5)
        flush(batches, put, lambda: consumer.commit(asynchronous=False), args.prefix, stats)
    finally:
        consumer.close()
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
