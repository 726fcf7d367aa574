"""Figures of the `local` site on kind (issue 10): image and node-image builds, `edgeai up` to every
pod Running, and the memory the running site takes. Prints figures; it is not a test.

    .venv/bin/python scripts/bench_kind_site.py            # cached builds, up from no cluster, memory
    .venv/bin/python scripts/bench_kind_site.py --cold     # also rebuild every image from scratch first

`--cold` removes the images' and bases' tags (not the Go, pip and Maven caches: those are the
set-up's, measured by its phases) so the figure is the image build itself. It deletes the
edgeai-local-local cluster if one runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from edgeai.cluster import kube
from edgeai.cluster.state import ClusterInfo

CLUSTER = "edgeai-local-local"


def timed(what: str, cmd: list[str]) -> float:
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    print(f"{what:<44} {took:8.1f} s", flush=True)
    return took


def edgeai(*args: str) -> list[str]:
    return [sys.executable, "-m", "edgeai.cli", *args]


def all_running(info: ClusterInfo) -> bool:
    pods = kube.Kubectl(info.kubeconfig).items("pods", "-A")
    return bool(pods) and all(p["status"].get("phase") in ("Running", "Succeeded") and all(
        c.get("ready") or p["status"]["phase"] == "Succeeded" for c in p["status"].get("containerStatuses", []))
        for p in pods)


def node_memory() -> dict[str, str]:
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{json .}}"], capture_output=True,
                         text=True, check=True).stdout
    stats = [json.loads(line) for line in out.splitlines()]
    return {s["Name"]: s["MemUsage"].split(" / ")[0] for s in stats
            if s["Name"].startswith(CLUSTER) or s["Name"] == "edgeai-registry"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="rebuild the images from scratch first")
    args = parser.parse_args()
    if ClusterInfo.load(CLUSTER):
        timed("edgeai cluster down (before)", edgeai("cluster", "down", "--env", "local"))
    if args.cold:
        images = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                                text=True, check=True).stdout.split()
        ours = [i for i in images if i.startswith(("ghcr.io/edgeai-platform/", "edgeai-base:"))]
        subprocess.run(["docker", "rmi", "-f", *ours], capture_output=True, check=False)
        timed("images build --env local (cold)", edgeai("images", "build", "--env", "local"))
    timed("images build --env local (cached)", edgeai("images", "build", "--env", "local"))
    timed("node image (cached)", ["bash", "scripts/build-node-image.sh"])
    start = time.monotonic()
    timed("edgeai up --env local (no cluster before)", edgeai("up", "--env", "local"))
    info = ClusterInfo.load(CLUSTER)
    kube.wait_for("every pod Running and Ready", lambda: all_running(info), 600, 2)
    print(f"{'from nothing to every pod Running and Ready':<44} {time.monotonic() - start:8.1f} s")
    timed("edgeai up --env local (again: no change)", edgeai("up", "--env", "local"))
    time.sleep(30)   # settle before reading memory
    for name, used in node_memory().items():
        print(f"memory {name:<37} {used:>10}")


if __name__ == "__main__":
    main()
