"""Kubernetes API versions that are removed, by the release that removed them."""

# (apiVersion, kind) -> (deprecated in, removed in, replacement); kind None = every kind of the group version.
LIFECYCLE = {
    ("extensions/v1beta1", None): ("1.8", "1.22", "apps/v1, networking.k8s.io/v1"),
    ("apps/v1beta1", None): ("1.9", "1.16", "apps/v1"),
    ("apps/v1beta2", None): ("1.9", "1.16", "apps/v1"),
    ("networking.k8s.io/v1beta1", None): ("1.19", "1.22", "networking.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", None): ("1.17", "1.22", "rbac.authorization.k8s.io/v1"),
    ("admissionregistration.k8s.io/v1beta1", None): ("1.16", "1.22", "admissionregistration.k8s.io/v1"),
    ("apiextensions.k8s.io/v1beta1", None): ("1.16", "1.22", "apiextensions.k8s.io/v1"),
    ("batch/v1beta1", "CronJob"): ("1.21", "1.25", "batch/v1"),
    ("policy/v1beta1", "PodDisruptionBudget"): ("1.21", "1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy"): ("1.21", "1.25", "Pod Security admission"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice"): ("1.21", "1.25", "discovery.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler"): ("1.22", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler"): ("1.23", "1.26", "autoscaling/v2"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", None): ("1.26", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", None): ("1.29", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity"): ("1.24", "1.27", "storage.k8s.io/v1"),
    ("v1", "Endpoints"): ("1.33", None, "discovery.k8s.io/v1 EndpointSlice"),
}


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = str(version).lstrip("v").split(".")
    return int(major), int(minor_)


def lifecycle(obj: dict):
    """(deprecated, removed, replacement) of the object's API, or None when current."""
    return (LIFECYCLE.get((obj.get("apiVersion"), obj.get("kind")))
            or LIFECYCLE.get((obj.get("apiVersion"), None)))
