"""The training stack (`<env>.training`): the environment's cloud side, on any Kubernetes cluster."""
