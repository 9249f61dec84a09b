"""Device mesh, shardings and host -> device batch transfer for data-parallel training.

One mesh axis, ``'data'``: batches are split over it, parameters and optimizer state are replicated. Under
``jax.jit`` with a batch-sharded input, XLA computes BatchNorm statistics over the *global* batch (it inserts
the all-reduces), i.e. SyncBN semantics; MMAction2's PyTorch DDP default is per-GPU BatchNorm. The global
batch size and learning rate come from the config whatever the number of devices or hosts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def maybe_initialize_distributed(coordinator_address: str | None = None, num_processes: int | None = None,
                                 process_id: int | None = None) -> bool:
  """Calls ``jax.distributed.initialize`` when multi-process arguments or cluster env vars are given."""
  cluster_env = ('JAX_COORDINATOR_ADDRESS', 'SLURM_JOB_ID', 'OMPI_COMM_WORLD_SIZE', 'TPU_WORKER_HOSTNAMES')
  if coordinator_address or num_processes:
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)
    return True
  if any(os.environ.get(name) for name in cluster_env):
    jax.distributed.initialize()  # auto-detects the cluster
    return True
  return False


def make_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  """A 1-D ``('data',)`` mesh over all (or the first ``num_devices``) devices, Auto axis type."""
  n = num_devices or jax.device_count()
  # Auto, not make_mesh's default Explicit: explicit axes reject some batch reshapes inside the models.
  return jax.make_mesh((n,), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=jax.devices()[:n])


def replicated(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Sharding that keeps a full copy on every device (parameters, optimizer state)."""
  return NamedSharding(mesh, P())


def data_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Sharding that splits the leading (batch) axis over the ``'data'`` axis."""
  return NamedSharding(mesh, P(DATA_AXIS))


def per_process_batch_size(global_batch_size: int, mesh: jax.sharding.Mesh) -> int:
  """This host's share of the global batch; the global batch must divide evenly over devices."""
  if global_batch_size % mesh.size:
    raise ValueError(f'global batch size {global_batch_size} is not divisible by the {mesh.size} devices; '
                     f'choose a multiple of {mesh.size}')
  return global_batch_size // jax.process_count()


def shard_batch(batch: Mapping[str, np.ndarray], mesh: jax.sharding.Mesh) -> dict[str, jax.Array]:
  """Turns this host's numpy batch into global arrays split over ``'data'`` (each host passes its slice)."""
  sharding = data_sharding(mesh)
  return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in batch.items()}


def gather_to_host(x: jax.Array) -> np.ndarray:
  """The full value of a (possibly multi-host) global array as numpy, on every host."""
  if jax.process_count() == 1:
    return np.asarray(x)
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))
