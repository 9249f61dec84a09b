"""Skeleton features: normalisation (``PreNormalize3D``/``PreNormalize2D``, 0.x ``PoseNormalize``), PySKL's
``RandomRot`` augmentation, and derived streams (``JointToBone``, ``ToMotion``, ``GenSkeFeat``), as in MMAction2."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skeljax.data.transforms_common import Transform

# (joint, parent) pairs: bone[v1] = joint[v1] - joint[v2]. The NTU list follows the 0.x hand topology
# (tip -> thumb -> hand) in both editions, and COCO hips hang off the nose: the reference's choice,
# kept because trained bone-stream checkpoints depend on it.
BONE_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    'nturgb+d': ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
                 (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
                 (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)),
    'openpose': ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8),
                 (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15)),
    'coco': ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7), (10, 8),
             (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
    'coco-hand': ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 5), (7, 6), (8, 7), (9, 0),
                  (10, 9), (11, 10), (12, 11), (13, 0), (14, 13), (15, 14), (16, 15), (17, 0), (18, 17),
                  (19, 18), (20, 19)),
    # NW-UCLA (Kinect v1, 20 joints): CTR-GCN's bone pairs; the shoulder centre (2) gets a zero bone.
    'nw-ucla': ((0, 1), (1, 2), (2, 2), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8), (10, 9),
                (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18)),
}
# Datasets whose C = 3 third channel is a confidence score (averaged, not differenced).
_SCORED_2D = ('openpose', 'coco', 'coco-hand')


def _axis_angle_matrix(axis: np.ndarray, theta: float) -> np.ndarray:
  """The reference's 3x3 matrix for a rotation by ``theta`` about ``axis`` (identity if degenerate)."""
  if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
    return np.eye(3)
  axis = np.asarray(axis, dtype=np.float64)
  axis = axis / np.sqrt(np.dot(axis, axis))
  a = np.cos(theta / 2.0)
  b, c, d = -axis * np.sin(theta / 2.0)
  aa, bb, cc, dd = a * a, b * b, c * c, d * d
  bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
  return np.array([[aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
                   [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
                   [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc]])


def _angle(v1: np.ndarray, v2) -> float:
  """Angle between two vectors in radians (0 if either is ~zero), computed as the reference does."""
  v2 = np.asarray(v2)
  if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
    return 0.0
  v1_u = v1 / np.linalg.norm(v1)
  v2_u = v2 / np.linalg.norm(v2)
  return np.arccos(np.clip(np.dot(v1_u, v2_u), -1.0, 1.0))


def _align(skeleton: np.ndarray, joints: Sequence[int], target) -> np.ndarray:
  """Rotate all joints so the person-0 frame-0 vector ``joints[0] -> joints[1]`` points along ``target``."""
  vector = skeleton[0, 0, joints[1]] - skeleton[0, 0, joints[0]]
  matrix = _axis_angle_matrix(np.cross(vector, target), _angle(vector, target))
  return np.einsum('abcd,kd->abck', skeleton, matrix)


class PreNormalize3D(Transform):
  """MMAction2 1.x ``PreNormalize3D`` for NTU 3D joints ``[M<=2, T, V, 3]``.

  Drops frames where the main person is empty (the person with more valid frames becomes person 0),
  subtracts person 0's frame-0 centre joint (joint 1 for V = 25, else the last joint) from non-zero
  joints, then rotates joint0->joint1 onto +z and joint8->joint4 onto +x. Sets ``total_frames`` and
  ``body_center``. The rotations make the result float64, as in the reference (``PoseDecode`` casts
  to float32 later); keeping it float64 keeps the bones taken from it bit-identical too.
  """

  def __init__(self, zaxis: Sequence[int] = (0, 1), xaxis: Sequence[int] = (8, 4),
               align_spine: bool = True, align_shoulder: bool = True, align_center: bool = True):
    self.zaxis = tuple(zaxis)
    self.xaxis = tuple(xaxis)
    self.align_spine = align_spine
    self.align_shoulder = align_shoulder
    self.align_center = align_center

  def __call__(self, results, rng=None):
    skeleton = self.keypoint(results)
    num_person, num_frames, num_joint, channels = skeleton.shape
    if results.get('total_frames', num_frames) != num_frames:
      raise self.fail(results, f'total_frames={results["total_frames"]} but keypoint has {num_frames}')
    if channels != 3:
      raise self.fail(results, f'needs 3D joints (C = 3), got C = {channels}')
    if num_person not in (1, 2):
      raise self.fail(results, f'supports 1 or 2 persons (as the reference), got M = {num_person}')
    if skeleton.sum() == 0:
      return results

    def valid_frames(m):
      return np.array([t for t in range(num_frames) if not np.all(np.isclose(skeleton[m, t], 0))])

    index0 = valid_frames(0)
    if num_person == 2 and len(index0) < len(index1 := valid_frames(1)):
      skeleton = skeleton[:, index1][[1, 0]]
    else:
      skeleton = skeleton[:, index0]

    if self.align_center:
      center_joint = 1 if num_joint == 25 else -1
      body_center = skeleton[0, 0, center_joint].copy()
      mask = ((skeleton != 0).sum(-1) > 0)[..., None]
      skeleton = (skeleton - body_center) * mask
      results['body_center'] = body_center
    if self.align_spine:
      skeleton = _align(skeleton, self.zaxis, [0, 0, 1])
    if self.align_shoulder:
      # The reference measures right -> left shoulder as xaxis[0] - xaxis[1].
      skeleton = _align(skeleton, (self.xaxis[1], self.xaxis[0]), [1, 0, 0])

    results['keypoint'] = skeleton
    results['total_frames'] = skeleton.shape[1]
    return results


class RandomRot(Transform):
  """PySKL ``RandomRot`` (DG-STGCN's training augmentation): rotate every joint by a random rotation.

  3D (C = 3): angles ``U(-theta, theta)`` about x, y, z, matrix ``Rz @ Ry @ Rx`` as the reference builds
  them. 2D (C = 2): one angle drawn as the reference draws it, ``uniform(-theta)``, i.e. from
  ``U(-theta, 1)`` (NumPy's default high), kept so a PySKL 2D recipe trains the same. All-zero skeletons
  are left unchanged. The result is float64 (the reference's einsum with a float64 matrix).
  """

  random = True

  def __init__(self, theta: float = 0.3):
    self.theta = float(theta)

  @staticmethod
  def matrix_3d(theta: np.ndarray) -> np.ndarray:
    """The reference's ``Rz @ (Ry @ Rx)`` for angles ``theta = (x, y, z)``."""
    cos, sin = np.cos(theta), np.sin(theta)
    rx = np.array([[1, 0, 0], [0, cos[0], sin[0]], [0, -sin[0], cos[0]]])
    ry = np.array([[cos[1], 0, -sin[1]], [0, 1, 0], [sin[1], 0, cos[1]]])
    rz = np.array([[cos[2], sin[2], 0], [-sin[2], cos[2], 0], [0, 0, 1]])
    return rz @ (ry @ rx)

  def __call__(self, results, rng=None):
    rng = self.need_rng(results, rng)
    skeleton = self.keypoint(results)
    channels = skeleton.shape[-1]
    if channels not in (2, 3):
      raise self.fail(results, f'rotates 2D or 3D joints, got C = {channels}')
    if np.all(np.isclose(skeleton, 0)):
      return results
    if channels == 3:
      matrix = self.matrix_3d(rng.uniform(-self.theta, self.theta, size=3))
    else:
      angle = rng.uniform(-self.theta)
      matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    results['keypoint'] = np.einsum('ab,mtvb->mtva', matrix, skeleton)
    return results


class PreNormalize2D(Transform):
  """MMAction2 1.x ``PreNormalize2D``: x -> (x - w/2)/(w/2), y -> (y - h/2)/(h/2) with (h, w) the
  sample's ``img_shape`` (else ``img_shape`` given here); other channels untouched."""

  def __init__(self, img_shape: Sequence[int] = (1080, 1920)):
    self.img_shape = tuple(img_shape)

  def __call__(self, results, rng=None):
    kp = self.keypoint(results).astype(np.float32)  # also a copy: the input is never modified
    h, w = results.get('img_shape', self.img_shape)
    kp[..., 0] = (kp[..., 0] - (w / 2)) / (w / 2)
    kp[..., 1] = (kp[..., 1] - (h / 2)) / (h / 2)
    results['keypoint'] = kp
    return results


class PoseNormalize(Transform):
  """MMAction2 0.x ``PoseNormalize``: per channel ``(v - mean) / (max - min)`` (float32).

  0.x applies it to its ``[C, T, V, M]`` layout; here channels are the last axis of ``keypoint``.
  """

  def __init__(self, mean: Sequence[float] = (960., 540., 0.5), min_value: Sequence[float] = (0., 0., 0.),
               max_value: Sequence[float] = (1920, 1080, 1.)):
    self.mean = np.array(mean, dtype=np.float32)
    self.min_value = np.array(min_value, dtype=np.float32)
    self.max_value = np.array(max_value, dtype=np.float32)

  def __call__(self, results, rng=None):
    kp = np.asarray(self.require(results, 'keypoint'))
    if kp.shape[-1] != self.mean.shape[0]:
      raise self.fail(results, f'keypoint has {kp.shape[-1]} channels but mean has {self.mean.shape[0]} '
                      '(0.x appends keypoint_score in FormatGCNInput first)')
    results['keypoint'] = (kp - self.mean) / (self.max_value - self.min_value)
    results['keypoint_norm_cfg'] = dict(mean=self.mean, min_value=self.min_value, max_value=self.max_value)
    return results


class JointToBone(Transform):
  """MMAction2 ``JointToBone``: ``bone[..., v1, :] = joint[..., v1, :] - joint[..., v2, :]`` (float32);
  for 2D data with a score channel (C = 3) the bone's score is the mean of the two joints' scores."""

  def __init__(self, dataset: str = 'nturgb+d', target: str = 'keypoint'):
    if dataset not in BONE_PAIRS:
      raise ValueError(f'JointToBone: unknown dataset {dataset!r}; known: {sorted(BONE_PAIRS)}')
    self.dataset = dataset
    self.target = target

  def __call__(self, results, rng=None):
    kp = self.keypoint(results)
    channels, num_joint = kp.shape[-1], kp.shape[-2]
    pairs = BONE_PAIRS[self.dataset]
    if channels not in (2, 3):
      raise self.fail(results, f'needs C in (2, 3), got {channels}')
    if num_joint != len(pairs):
      raise self.fail(results, f'dataset {self.dataset!r} has {len(pairs)} joints, keypoint has {num_joint}')
    child, parent = np.array(pairs).T
    bone = np.zeros(kp.shape, dtype=np.float32)
    bone[..., child, :] = kp[..., child, :] - kp[..., parent, :]
    if channels == 3 and self.dataset in _SCORED_2D:
      bone[..., child, 2] = (kp[..., child, 2] + kp[..., parent, 2]) / 2
    results[self.target] = bone
    return results


class ToMotion(Transform):
  """MMAction2 1.x ``ToMotion``: ``motion[:, t] = x[:, t+1] - x[:, t]``, last frame zero; for 2D
  ``openpose``/``coco`` data with C = 3 the score channel becomes the two frames' mean score."""

  def __init__(self, dataset: str = 'nturgb+d', source: str = 'keypoint', target: str = 'motion'):
    self.dataset = dataset
    self.source = source
    self.target = target

  def __call__(self, results, rng=None):
    data = np.asarray(self.require(results, self.source))
    if data.ndim != 4 or data.shape[-1] not in (2, 3):
      raise self.fail(results, f'{self.source} must be [M, T, V, C in (2, 3)], got {data.shape}')
    num_frames = data.shape[1]
    motion = np.zeros_like(data)
    motion[:, :num_frames - 1] = np.diff(data, axis=1)
    # The reference leaves 'coco-hand' out here (unlike JointToBone); kept identical.
    if data.shape[-1] == 3 and self.dataset in ('openpose', 'coco'):
      motion[:, :num_frames - 1, :, 2] = (data[:, :num_frames - 1, :, 2] + data[:, 1:, :, 2]) / 2
    results[self.target] = motion
    return results


class GenSkeFeat(Transform):
  """MMAction2 1.x ``GenSkeFeat``: joint ``j``, bone ``b`` and their motions ``jm``/``bm``,
  concatenated along ``axis`` in the order of ``feats``.

  For 2D data, ``keypoint_score`` is first appended as channel 2 (and removed from results).
  Motion is taken here, before temporal sampling, as in the reference.
  """

  FEATS = ('j', 'b', 'jm', 'bm')

  def __init__(self, dataset: str = 'nturgb+d', feats: Sequence[str] = ('j',), axis: int = -1):
    feats = list(feats)
    unknown = [f for f in feats if f not in self.FEATS]
    if unknown or not feats:
      raise ValueError(f'GenSkeFeat: feats must be a non-empty subset of {self.FEATS}, got {feats}')
    self.dataset = dataset
    self.feats = feats
    self.axis = axis
    self._bone = JointToBone(dataset, target='b')
    self._joint_motion = ToMotion(dataset, source='j', target='jm')
    self._bone_motion = ToMotion(dataset, source='b', target='bm')

  def __call__(self, results, rng=None):
    if 'keypoint_score' in results and 'keypoint' in results:
      if self.dataset == 'nturgb+d':
        raise self.fail(results, "has keypoint_score but dataset='nturgb+d' (3D); use the 2D dataset name")
      kp = self.keypoint(results)
      if kp.shape[-1] != 2:
        raise self.fail(results, f'only 2D keypoints carry keypoint_score; keypoint has C = {kp.shape[-1]}')
      score = np.asarray(results.pop('keypoint_score'))
      results['keypoint'] = np.concatenate([kp, score[..., None].astype(kp.dtype)], -1)
    if 'b' in self.feats or 'bm' in self.feats:
      results = self._bone(results)
    results['j'] = results.pop('keypoint')
    if 'jm' in self.feats:
      results = self._joint_motion(results)
    if 'bm' in self.feats:
      results = self._bone_motion(results)
    feats = [results.pop(name) for name in self.feats]
    for name in ('j', 'b', 'jm', 'bm'):  # intermediate streams not asked for
      results.pop(name, None)
    results['keypoint'] = np.concatenate(feats, axis=self.axis)
    return results
