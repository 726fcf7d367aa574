"""Time from `git push` to the local kind site running the change through Argo CD alone (issue 12's
goal: <= 60 s from commit). Prints figures; it is not a test.

    make up                                      # the local site, with its Git server and Argo CD
    .venv/bin/python scripts/bench_gitops.py [--rounds 5]

Each round changes the model's replicas (alternately +1 and back) in a clone of the served repository,
renders deploy/, runs the gate, commits and pushes, then times: push -> Argo CD has synced the commit,
and push -> the HorizontalPodAutoscaler on the site has the new minimum. The gate's own time (what CI
spends before the merge) is printed beside. At the end the served branch is put back and synced.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeai import fleet
from edgeai.cluster.kube import Kubectl, wait_for
from edgeai.cluster.state import ClusterInfo
from edgeai.gitops import gitserver
from edgeai.gitops.loop import Loop

ENV, SITE, CLUSTER, MODEL, NAMESPACE = "local", "local", "edgeai-local-local", "sensor-anomaly", "edgeai-models"
GOAL = 60.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    info = ClusterInfo.load(CLUSTER)
    if info is None or not gitserver.answers():
        sys.exit(f"no running {CLUSTER} site with its Git server: run `make up` first")
    env = fleet.load_fleet([ENV])[0]
    kubectl = Kubectl(info.kubeconfig)
    original = gitserver.publish(log=lambda m: None)
    hpa_min = lambda: kubectl.get("hpa", "-n", NAMESPACE, MODEL)["spec"]["minReplicas"]  # noqa: E731
    synced_s, applied_s, gate_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        loop = Loop.clone_served(env, env.sites[SITE], kubectl, Path(tmp) / "repo")
        loop.wait_synced(original)
        base = hpa_min()
        print(f"{'round':<6} {'replicas':>8} {'gate (CI)':>10} {'push->synced':>13} {'push->applied':>14}")
        try:
            for n in range(1, args.rounds + 1):
                want = base + (n % 2)
                loop.set_model(MODEL, replicas=want)
                revision = loop.commit(f"bench: {MODEL} replicas {want}")
                started = time.monotonic()
                pushed = loop.merge()
                gate_s.append(pushed - started)
                synced_s.append(loop.wait_synced(revision))
                wait_for("the HPA minimum", lambda want=want: hpa_min() == want, 120, interval=0.5)
                applied_s.append(time.monotonic() - pushed)
                print(f"{n:<6} {want:>8} {gate_s[-1]:>9.1f}s {synced_s[-1]:>12.1f}s {applied_s[-1]:>13.1f}s",
                      flush=True)
        finally:
            subprocess.run(["git", "-C", str(gitserver.repository()), "update-ref",
                            f"refs/heads/{gitserver.BRANCH}", original], check=True)
            loop.wait_synced(original)
    for what, values in (("push -> synced", synced_s), ("push -> applied", applied_s), ("gate (CI)", gate_s)):
        print(f"{what:<16} median {statistics.median(values):5.1f}s  max {max(values):5.1f}s"
              + (f"  (goal <= {GOAL:.0f}s: {'met' if max(values) <= GOAL else 'NOT met'})"
                 if what != "gate (CI)" else ""))
    print(f"Argo CD polls every {env.gitops.get('pollSeconds')}s (gitops.pollSeconds): the median is about "
          "half of it plus the sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
