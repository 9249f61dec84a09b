"""MMAction2 data transforms by name (numpy, host side): ``t(results, rng=None) -> results``.

Each class matches one MMAction2 transform (name, constructor arguments, results keys, arithmetic);
the modules are split by concern:

- ``transforms_sampling``: ``UniformSampleFrames``, ``PaddingWithLoop`` (0.x), ``PoseDecode``,
  ``DecompressPose`` (wraps ``skeljax.data.decompress``);
- ``transforms_skeleton``: ``PreNormalize3D``, ``PreNormalize2D``, ``PoseNormalize`` (0.x), ``RandomRot``
  (PySKL), ``JointToBone``, ``ToMotion``, ``GenSkeFeat``;
- ``transforms_geometry``: ``PoseCompact``, ``Resize``, ``RandomResizedCrop``, ``CenterCrop``, ``Flip``;
- ``transforms_format``: ``FormatGCNInput``, ``FormatShape``, ``PackActionInputs``, ``PackPoseKeypoints``.

``GeneratePoseTarget`` (``skeljax.data.heatmap``) is registered by ``skeljax.data.pipeline``.
"""

from skeljax.data.transforms_common import Transform, TransformError
from skeljax.data.transforms_format import FormatGCNInput, FormatShape, PackActionInputs, PackPoseKeypoints
from skeljax.data.transforms_geometry import CenterCrop, Flip, PoseCompact, RandomResizedCrop, Resize
from skeljax.data.transforms_sampling import DecompressPose, PaddingWithLoop, PoseDecode, UniformSampleFrames
from skeljax.data.transforms_skeleton import (BONE_PAIRS, GenSkeFeat, JointToBone, PoseNormalize,
                                              PreNormalize2D, PreNormalize3D, RandomRot, ToMotion)

# The transforms (MMAction2 names) that skeljax.data.pipeline registers from this module.
TRANSFORM_NAMES = (
    'UniformSampleFrames', 'PaddingWithLoop', 'PoseDecode', 'DecompressPose',
    'PreNormalize3D', 'PreNormalize2D', 'PoseNormalize', 'RandomRot', 'JointToBone', 'ToMotion', 'GenSkeFeat',
    'PoseCompact', 'Resize', 'RandomResizedCrop', 'CenterCrop', 'Flip',
    'FormatGCNInput', 'FormatShape', 'PackActionInputs', 'PackPoseKeypoints',
)
__all__ = [*TRANSFORM_NAMES, 'BONE_PAIRS', 'Transform', 'TransformError']
