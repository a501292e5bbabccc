"""The one error the cluster's commands raise for a user to read."""


class ClusterError(RuntimeError):
    """The cluster cannot do what was asked; the message says why (and shows a log tail)."""
