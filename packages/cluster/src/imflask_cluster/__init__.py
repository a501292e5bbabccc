"""imflask-cluster: IMFlask's reference topology on one machine, for trying and testing it.

``Cluster.up(folder)`` (or ``imflask-cluster up DIR``) starts HAProxy, the app
instances, the stores and the workers as processes of their own; ``Cluster.open``
finds them again from the state file. It imports none of the imflask packages.
"""

from imflask_cluster.binaries import MissingBinary
from imflask_cluster.cluster import Cluster, NodeStatus
from imflask_cluster.errors import ClusterError
from imflask_cluster.layout import Options

__all__ = ["Cluster", "ClusterError", "MissingBinary", "NodeStatus", "Options"]
