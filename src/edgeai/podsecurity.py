"""Pod Security Standards, `restricted` level, checked on a rendered pod spec.

The same checks the API server's Pod Security admission makes, done offline so the gate
and the tests see a violation before any site does. Reference:
https://kubernetes.io/docs/concepts/security/pod-security-standards/
"""

from __future__ import annotations

from typing import Any

LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Standards, weakest first
LABEL_PREFIX = "pod-security.kubernetes.io"       # namespace labels Pod Security admission reads

ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes"}


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec.get("containers", []), *spec.get("ephemeralContainers", [])]


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """Every way a pod spec breaks the restricted level; empty when it passes."""
    out = []
    pod_sc = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            out.append(f"{field} is true")
    for volume in spec.get("volumes", []):
        kind = next((k for k in volume if k != "name"), None)
        if kind not in ALLOWED_VOLUMES:
            out.append(f"volume {volume.get('name')!r} is of type {kind}")
    for sysctl in pod_sc.get("sysctls", []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            out.append(f"unsafe sysctl {sysctl.get('name')}")
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_sc.get("runAsUser") == 0:
        out.append("pod runAsUser is 0")
    for c in _containers(spec):
        name = c.get("name")
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"container {name} is privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"container {name} must set allowPrivilegeEscalation: false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"container {name} must drop ALL capabilities")
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            out.append(f"container {name} adds capabilities {sorted(extra)}")
        if not (sc.get("runAsNonRoot") is True or (pod_non_root and sc.get("runAsNonRoot") is not False)):
            out.append(f"container {name} must run as non-root (runAsNonRoot: true)")
        if sc.get("runAsUser") == 0:
            out.append(f"container {name} runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"container {name} must set seccompProfile RuntimeDefault or Localhost")
        for port in c.get("ports", []):
            if port.get("hostPort"):
                out.append(f"container {name} uses hostPort {port['hostPort']}")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"container {name} sets procMount {sc['procMount']}")
    return out
