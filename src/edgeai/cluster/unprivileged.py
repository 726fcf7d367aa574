"""kind where `docker run --privileged` fails: the one place for that machine's work-arounds.

Some engines (these build machines among them) run without CAP_SYS_RESOURCE, so a privileged
container cannot be given all capabilities and `docker run --privileged` fails ("unable to apply
caps"). kind's nodes need little of what --privileged gives beyond capabilities, and all of it can be
asked for one by one. Used only when `privileged_works()` says so; elsewhere kind runs as is.

- a `docker` wrapper, first on PATH for the kind process only, replaces `--privileged` of
  `docker run` with: every capability but SYS_RESOURCE, no masked or read-only /proc paths, all
  devices allowed, /dev/kmsg (the kubelet reads it), and an entrypoint that first remounts
  read-write what docker mounts read-only in a container that is not privileged (/sys and the
  cgroup v1 hierarchies) and then runs kind's own entrypoint. It drops `--privileged` of
  `docker exec`: the node's processes already have the node's capabilities.
- containerd in the node must not lower a container's OOM score below its own
  (`restrict_oom_score_adj`): lowering it needs CAP_SYS_RESOURCE. The kubelet then logs harmless
  warnings about OOM scores.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

CONTAINERD_PATCH = '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n'
NODE_ENTRYPOINT = "/kind/edgeai-unprivileged-entrypoint"

_ENTRYPOINT = """#!/bin/sh
# edgeai.cluster.unprivileged: docker mounts /sys and the cgroup hierarchies read-only in a container
# that is not privileged; systemd, the kubelet and kube-proxy write there. Then kind's entrypoint.
set -e
for target in $(awk '$5 ~ "^/sys" && $6 ~ /(^|,)ro(,|$)/ {print $5}' /proc/self/mountinfo); do
  mount -o remount,bind,rw "$target"   # the mount point's flag only (cgroup v1 refuses a full remount)
done
exec /usr/local/bin/entrypoint /sbin/init "$@"
"""

_DOCKER = """#!/bin/sh
# edgeai.cluster.unprivileged: this engine cannot run --privileged containers; ask for what kind's
# nodes need one by one instead (see that module's docstring). Everything else goes to docker as is.
sub=$1
for arg do
  shift
  if [ "$arg" = --privileged ]; then
    if [ "$sub" = run ]; then
      set -- "$@" --cap-add=ALL --cap-drop=SYS_RESOURCE --security-opt systempaths=unconfined \\
        --device-cgroup-rule='a *:* rwm' --volume /dev/kmsg:/dev/kmsg \\
        --volume "@ENTRYPOINT@:@NODE_ENTRYPOINT@:ro" --entrypoint @NODE_ENTRYPOINT@
    fi
    continue
  fi
  set -- "$@" "$arg"
done
exec "@DOCKER@" "$@"
"""


@functools.cache
def privileged_works(image: str) -> bool:
    """True when the engine can run `image` privileged (then kind needs none of this module)."""
    proc = subprocess.run(["docker", "run", "--rm", "--privileged", "--entrypoint", "true", image],
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode == 0


def environ(directory: Path, env: dict[str, str]) -> dict[str, str]:
    """`env` with the docker wrapper (written into `directory`) first on PATH."""
    docker = shutil.which("docker", path=env.get("PATH"))
    if docker is None:
        raise RuntimeError("docker is not on PATH")
    directory.mkdir(parents=True, exist_ok=True)
    entrypoint = directory / "node-entrypoint"
    entrypoint.write_text(_ENTRYPOINT)
    wrapper = directory / "docker"
    wrapper.write_text(_DOCKER.replace("@ENTRYPOINT@", str(entrypoint)).replace("@DOCKER@", docker)
                       .replace("@NODE_ENTRYPOINT@", NODE_ENTRYPOINT))
    for script in (entrypoint, wrapper):
        script.chmod(0o755)
    return {**env, "PATH": f"{directory}{os.pathsep}{env.get('PATH', '')}"}
