"""Procedural skeleton actions: the embedded dataset that lets skeljax train and test with no download.

Each clip is a body (NTU-25 Kinect joints plus five face points) animated by one of ``ACTIONS``: arms by
forward kinematics from joint angles, legs by two-bone inverse kinematics from foot targets (so feet stay
planted while the pelvis drops in squats or sitting), the torso by pitch (bowing) and yaw (turning). The body is
then placed in front of a Kinect-like camera (random yaw, pitch, distance, offset) and degraded like real
sensor data: joint noise, frames where the person is lost (all joints zero) and single joints dropped.

Editions: ``ntu25_3d`` gives ``keypoint [M, T, 25, 3]`` in camera metres (Kinect axes: x to the image left, y up,
z away from the camera); ``coco17_2d`` projects the same motion to COCO-17 pixel coordinates in a 1080×1920
image with ``keypoint_score`` (score 0 where a joint is missing). Everything is a pure function of the seed.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

ACTIONS = ('waving', 'jumping', 'squats', 'kicking', 'clapping', 'walking', 'bowing', 'arm_circles',
           'punching', 'turning', 'sitting_down', 'standing_up', 'handshake')
EDITIONS = ('ntu25_3d', 'coco17_2d')
TWO_PERSON_ACTIONS = ('handshake',)
IMG_SHAPE = (1080, 1920)
FPS = 30.0

# COCO-17 from the 30 generated points (NTU-25 then nose, left eye, right eye, left ear, right ear).
COCO_FROM_POINTS = (25, 26, 27, 28, 29, 4, 8, 5, 9, 6, 10, 12, 16, 13, 17, 14, 18)

_LEFT, _RIGHT = 1.0, -1.0  # body frame: +x is the person's left, +y up, +z forward


def _unit(v: np.ndarray) -> np.ndarray:
  return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _limb_dir(side: float, flex, abd) -> np.ndarray:
  """Direction of a limb hanging down, raised forward by ``flex`` and sideways by ``abd`` (radians) → [T, 3]."""
  flex, abd = np.broadcast_arrays(np.asarray(flex, float), np.asarray(abd, float))
  d = np.stack([side * np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], axis=-1)
  return _unit(d)


def _rot_x(a):
  a = np.asarray(a, float)
  c, s = np.cos(a), np.sin(a)
  o, z = np.ones_like(a), np.zeros_like(a)
  return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _rot_y(a):
  a = np.asarray(a, float)
  c, s = np.cos(a), np.sin(a)
  o, z = np.ones_like(a), np.zeros_like(a)
  return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _smoothstep(x):
  x = np.clip(x, 0.0, 1.0)
  return x * x * (3 - 2 * x)


class _Body:
  """Segment lengths of one performer (metres), scaled by body size."""

  def __init__(self, rng: np.random.Generator):
    s = rng.uniform(0.82, 1.15)
    j = lambda: rng.uniform(0.93, 1.07)  # per-segment proportions vary a little too
    self.spine = 0.25 * s * j()
    self.chest = 0.24 * s * j()
    self.neck, self.head = 0.08 * s, 0.13 * s * j()
    self.shoulder = 0.18 * s * j()
    self.upper_arm, self.forearm = 0.28 * s * j(), 0.26 * s * j()
    self.hand, self.tip, self.thumb = 0.08 * s, 0.07 * s, 0.05 * s
    self.hip = 0.09 * s * j()
    self.thigh, self.shin = 0.43 * s * j(), 0.42 * s * j()
    self.foot = 0.13 * s
    self.pelvis_height = 0.04 * s + self.thigh + self.shin  # standing, ankle 4 cm above the floor


class _Motion:
  """Per-frame controls of one performer, all in the body frame; actions overwrite the defaults."""

  def __init__(self, t: np.ndarray, body: _Body, rng: np.random.Generator):
    n = t.shape[0]
    sway = rng.uniform(0.0, 0.03)
    sway_f = rng.uniform(0.2, 0.5)
    ph = rng.uniform(0, 2 * np.pi)
    self.pelvis = np.zeros((n, 3))
    self.pelvis[:, 0] = sway * np.sin(2 * np.pi * sway_f * t + ph)  # idle weight shift
    self.pitch = np.full(n, rng.uniform(-0.05, 0.08))
    self.yaw = np.zeros(n)
    rest = rng.uniform(0.05, 0.2)
    self.arm = {s: (np.full(n, 0.05), np.full(n, rest)) for s in (_LEFT, _RIGHT)}
    self.forearm = {s: (np.full(n, 0.15), np.full(n, rest * 0.8)) for s in (_LEFT, _RIGHT)}
    self.ankle = {s: np.tile([s * body.hip * rng.uniform(0.9, 1.4), 0.04, 0.0], (n, 1)) for s in (_LEFT, _RIGHT)}


def _activity(t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
  """Envelope in [0, 1] that fades the action in and out, plus its start and end time (seconds)."""
  total = t[-1] + 1 / FPS
  start = rng.uniform(0.0, 0.15) * total
  end = total - rng.uniform(0.0, 0.15) * total
  ramp = 0.25
  env = _smoothstep((t - start) / ramp) * _smoothstep((end - t) / ramp)
  return env, start, end


def _animate(action: str, t: np.ndarray, body: _Body, rng: np.random.Generator, role: int = 0) -> _Motion:
  """The motion controls of ``action`` over times ``t`` (seconds)."""
  m = _Motion(t, body, rng)
  env, start, end = _activity(t, rng)
  speed = rng.uniform(0.75, 1.35)
  amp = rng.uniform(0.8, 1.2)
  phase = 2 * np.pi * speed * (t - start)
  progress = _smoothstep((t - start) / max(end - start, 1e-3))
  deg = np.pi / 180
  if action == 'waving':
    side = _RIGHT if rng.random() < 0.8 else _LEFT
    m.arm[side] = (0.2 * env, env * 110 * deg * amp)
    m.forearm[side] = (0.3 * env, env * (150 + 25 * np.sin(1.6 * phase)) * deg)
  elif action == 'jumping':
    s = np.sin(1.0 * phase)
    up = np.maximum(s, 0) ** 1.5 * 0.28 * amp * env
    crouch = np.maximum(-s, 0) * 0.12 * env
    m.pelvis[:, 1] += up - crouch
    for side in (_LEFT, _RIGHT):
      m.ankle[side][:, 1] += up
      m.arm[side] = (env * (0.3 + 2.2 * np.maximum(s, 0)), np.full_like(t, 0.2))
      m.forearm[side] = (env * (0.5 + 2.2 * np.maximum(s, 0)), np.full_like(t, 0.2))
  elif action == 'squats':
    down = (1 - np.cos(0.55 * phase)) / 2 * env
    m.pelvis[:, 1] -= 0.38 * amp * down
    m.pelvis[:, 2] -= 0.12 * down
    m.pitch += 0.45 * down
    for side in (_LEFT, _RIGHT):
      m.arm[side] = (1.4 * down, np.full_like(t, 0.1))
      m.forearm[side] = (1.5 * down, np.full_like(t, 0.1))
  elif action == 'kicking':
    side = _RIGHT if rng.random() < 0.7 else _LEFT
    kick = np.maximum(np.sin(0.75 * phase), 0) ** 3 * env * amp
    m.ankle[side][:, 2] += 0.65 * kick
    m.ankle[side][:, 1] += 0.45 * kick
    m.pitch -= 0.15 * kick
    for s in (_LEFT, _RIGHT):
      m.arm[s] = (np.full_like(t, 0.1), 0.2 + 0.5 * kick)
  elif action == 'clapping':
    open_ = (1 + np.cos(2.6 * phase)) / 2
    for side in (_LEFT, _RIGHT):
      m.arm[side] = (env * 1.0 * amp, env * (0.05 + 0.35 * open_))
      m.forearm[side] = (env * 1.5, env * (-0.45 + 0.75 * open_))
  elif action == 'walking':
    step = 0.95 * phase
    stride = 0.25 * amp
    # Slow progress, centred on the clip, so the walker stays in the camera's field of view.
    travel = np.cumsum(env) / FPS * 0.45 * speed
    m.pelvis[:, 2] += travel - travel.mean()
    m.pelvis[:, 1] += 0.02 * np.cos(2 * step) * env
    for side, ph in ((_LEFT, 0.0), (_RIGHT, np.pi)):
      swing = np.sin(step + ph)
      m.ankle[side][:, 2] = m.pelvis[:, 2] + stride * swing * env
      m.ankle[side][:, 1] += 0.08 * np.maximum(np.cos(step + ph), 0) * env
      m.arm[side] = (-0.45 * swing * env, np.full_like(t, 0.1))
      m.forearm[side] = (-0.45 * swing * env + 0.3 * env, np.full_like(t, 0.1))
  elif action == 'bowing':
    bow = (1 - np.cos(0.45 * phase)) / 2 * env
    m.pitch += 1.0 * amp * bow
    m.pelvis[:, 2] -= 0.08 * bow
    for side in (_LEFT, _RIGHT):  # arms hang (mostly) under gravity while the torso tips
      m.arm[side] = (-0.8 * bow, np.full_like(t, 0.08))
      m.forearm[side] = (-0.7 * bow, np.full_like(t, 0.08))
  elif action == 'arm_circles':
    direction = 1 if rng.random() < 0.5 else -1
    for side in (_LEFT, _RIGHT):
      circ = 1.3 * phase * direction
      m.arm[side] = (env * 0.35 * amp * np.sin(circ), env * (1.45 + 0.35 * amp * np.cos(circ)))
      m.forearm[side] = m.arm[side]
  elif action == 'punching':
    s = np.sin(1.3 * phase)
    for side, sign in ((_RIGHT, 1.0), (_LEFT, -1.0)):
      ext = np.maximum(sign * s, 0) ** 2 * amp
      m.arm[side] = (env * (0.3 + 1.2 * ext), env * (0.3 - 0.2 * ext))
      m.forearm[side] = (env * (2.5 - 1.0 * ext), env * (0.1 - 0.3 * ext))
    m.yaw += 0.15 * s * env
  elif action == 'turning':
    direction = 1 if rng.random() < 0.5 else -1
    m.yaw += direction * np.pi * rng.uniform(0.8, 1.2) * progress
    step = 2.0 * phase
    for side, ph in ((_LEFT, 0.0), (_RIGHT, np.pi)):
      m.ankle[side][:, 1] += 0.06 * np.maximum(np.sin(step + ph), 0) * env
  elif action in ('sitting_down', 'standing_up'):
    p = progress if action == 'sitting_down' else 1 - progress
    m.pelvis[:, 1] -= 0.45 * p
    m.pelvis[:, 2] -= 0.28 * p
    lean = np.sin(np.pi * p)
    m.pitch += 0.55 * lean + 0.15 * p
    for side in (_LEFT, _RIGHT):
      m.arm[side] = (0.9 * lean + 0.3 * p, np.full_like(t, 0.15))
      m.forearm[side] = (1.0 * lean + 0.9 * p, np.full_like(t, 0.15))
  elif action == 'handshake':
    # Both performers walk-in distance is fixed by the caller; here the right arms meet and shake.
    reach = env
    shake = np.sin(2 * np.pi * 2.5 * t + role * 0.3) * 0.12 * env
    m.arm[_RIGHT] = (reach * 0.75, reach * -0.1)
    m.forearm[_RIGHT] = (reach * 1.15 + shake, reach * -0.3)
    m.pitch += 0.08 * reach
  else:
    raise ValueError(f'unknown synthetic action {action!r}; known: {ACTIONS}')
  return m


def _leg(hip: np.ndarray, ankle: np.ndarray, thigh: float, shin: float, forward: np.ndarray) -> np.ndarray:
  """Knee position by two-bone IK, bending toward ``forward`` (all [T, 3])."""
  d = ankle - hip
  dist = np.clip(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6, thigh + shin - 1e-6)
  axis = d / dist
  a = (thigh ** 2 - shin ** 2 + dist ** 2) / (2 * dist)  # distance along the hip→ankle line
  h = np.sqrt(np.maximum(thigh ** 2 - a ** 2, 0.0))
  bend = _unit(forward - np.sum(forward * axis, -1, keepdims=True) * axis)
  return hip + a * axis + h * bend


def _pose(m: _Motion, body: _Body) -> np.ndarray:
  """The 30 points [T, 30, 3] in the body's ground frame (feet on y = 0 at rest)."""
  n = m.pelvis.shape[0]
  out = np.zeros((n, 30, 3))
  yaw = _rot_y(m.yaw)
  torso = yaw @ _rot_x(m.pitch)  # positive pitch tips the chest forward (+z)
  up, forward = np.array([0, 1.0, 0]), np.array([0, 0, 1.0])
  pelvis = m.pelvis + np.array([0, body.pelvis_height, 0])
  rot = lambda r, v: np.einsum('tij,tj->ti', r, v)
  tv = lambda v: np.broadcast_to(v, (n, 3))
  out[:, 0] = pelvis
  out[:, 1] = pelvis + rot(torso, tv(up * body.spine))
  out[:, 20] = out[:, 1] + rot(torso, tv(up * body.chest))
  out[:, 2] = out[:, 20] + rot(torso, tv(up * body.neck))
  out[:, 3] = out[:, 2] + rot(torso, tv(up * body.head))
  head_fwd, head_left, head_up = rot(torso, tv(forward)), rot(torso, tv(np.array([1.0, 0, 0]))), rot(torso, tv(up))
  out[:, 25] = out[:, 3] + 0.09 * head_fwd - 0.02 * head_up
  for k, side in ((26, _LEFT), (27, _RIGHT)):
    out[:, k] = out[:, 3] + 0.075 * head_fwd + side * 0.033 * head_left + 0.015 * head_up
  for k, side in ((28, _LEFT), (29, _RIGHT)):
    out[:, k] = out[:, 3] + side * 0.075 * head_left
  arms = {_LEFT: (4, 5, 6, 7, 21, 22), _RIGHT: (8, 9, 10, 11, 23, 24)}
  for side, (sh, el, wr, ha, tip, th) in arms.items():
    out[:, sh] = out[:, 20] + rot(torso, tv(np.array([side * body.shoulder, -0.03, 0])))
    ua = rot(torso, _limb_dir(side, *m.arm[side]))
    fa = rot(torso, _limb_dir(side, *m.forearm[side]))
    out[:, el] = out[:, sh] + body.upper_arm * ua
    out[:, wr] = out[:, el] + body.forearm * fa
    out[:, ha] = out[:, wr] + body.hand * fa
    out[:, tip] = out[:, ha] + body.tip * fa
    out[:, th] = out[:, wr] + body.thumb * _unit(fa + 0.8 * rot(torso, tv(np.array([0, 0, 1.0]))))
  legs = {_LEFT: (12, 13, 14, 15), _RIGHT: (16, 17, 18, 19)}
  body_fwd = rot(yaw, tv(forward))
  for side, (hp, kn, an, ft) in legs.items():
    out[:, hp] = pelvis + rot(yaw, tv(np.array([side * body.hip, -0.05, 0])))
    ankle = rot(yaw, m.ankle[side])
    out[:, kn] = _leg(out[:, hp], ankle, body.thigh, body.shin, body_fwd)
    # IK clips an unreachable target; put the ankle where the shin actually ends.
    out[:, an] = out[:, kn] + body.shin * _unit(ankle - out[:, kn])
    out[:, ft] = out[:, an] + body.foot * body_fwd + np.array([0, -0.03, 0])
  return out


def _place(points: np.ndarray, yaw: float, offset: np.ndarray, camera_pitch: float,
           camera_height: float) -> np.ndarray:
  """Body ground frame → Kinect camera frame for a performer at ``offset`` facing the camera turned by ``yaw``."""
  # Facing the camera means body +z maps to camera -z (a half turn), then the view yaw.
  r = _rot_x(camera_pitch) @ _rot_y(np.pi + yaw)
  p = points @ r.T + offset
  p[..., 1] -= camera_height
  return p


def _degrade(kp: np.ndarray, rng: np.random.Generator, noise: float) -> tuple[np.ndarray, np.ndarray]:
  """Adds noise and sensor dropouts to one person's [T, V, 3]; returns it and a visibility mask [T, V]."""
  t, v, _ = kp.shape
  kp = kp + rng.normal(0.0, noise, kp.shape) + rng.normal(0.0, noise / 2, (1, v, 3))
  visible = np.ones((t, v), bool)
  if rng.random() < 0.35:  # the tracker loses the person for a few frames
    for _ in range(rng.integers(1, 4)):
      s = rng.integers(0, t)
      visible[s:s + rng.integers(1, 6)] = False
  if rng.random() < 0.3:  # single joints drop out
    visible &= rng.random((t, v)) > 0.01
  return kp, visible


def generate_clip(action: int, rng: np.random.Generator, *, edition: str = 'ntu25_3d',
                  num_frames: int | None = None, frame_dir: str = 'synthetic', min_frames: int = 50,
                  max_frames: int = 120) -> dict:
  """One clip as an MMAction2 results dict (``keypoint [M, T, V, C]``, plus ``keypoint_score`` for 2D)."""
  if edition not in EDITIONS:
    raise ValueError(f'unknown synthetic edition {edition!r}; known: {EDITIONS}')
  name = ACTIONS[action]
  n = int(num_frames or rng.integers(min_frames, max_frames + 1))
  t = np.arange(n) / FPS
  view_yaw = rng.uniform(-0.8, 0.8)
  camera_pitch = rng.uniform(-0.15, 0.15)
  camera_height = rng.uniform(0.8, 1.2)
  depth = rng.uniform(2.6, 3.8)
  center = np.array([rng.uniform(-0.4, 0.4), 0.0, depth])
  performers = []
  if name in TWO_PERSON_ACTIONS:
    gap = rng.uniform(0.45, 0.6)
    for role, side in ((0, 1.0), (1, -1.0)):
      # Performers face each other across the camera's line of sight, each turned by ±90°.
      body = _Body(rng)
      pts = _pose(_animate(name, t, body, rng, role=role), body)
      pts[..., 2] -= gap  # stand back from the meeting point, facing it
      yaw = view_yaw + side * np.pi / 2
      performers.append(_place(pts, yaw, center, camera_pitch, camera_height))
  else:
    body = _Body(rng)
    performers.append(_place(_pose(_animate(name, t, body, rng), body), view_yaw, center, camera_pitch,
                             camera_height))
    if rng.random() < 0.2:  # an idle bystander, as in real recordings
      body = _Body(rng)
      side_offset = center + np.array([rng.choice([-1, 1]) * rng.uniform(0.9, 1.4), 0, rng.uniform(0, 0.8)])
      pts = _pose(_Motion(t, body, rng), body)
      performers.append(_place(pts, rng.uniform(-0.6, 0.6), side_offset, camera_pitch, camera_height))
  noise = rng.uniform(0.004, 0.015)
  kps, masks = zip(*[_degrade(p, rng, noise) for p in performers])
  points, visible = np.stack(kps), np.stack(masks)  # [M, T, 30, 3], [M, T, 30]
  results = {'frame_dir': frame_dir, 'label': int(action), 'total_frames': n}
  if edition == 'ntu25_3d':
    kp = np.where(visible[..., None], points, 0.0)[:, :, :25]
    results['keypoint'] = kp.astype(np.float32)
    return results
  idx = list(COCO_FROM_POINTS)
  pts, vis = points[:, :, idx], visible[:, :, idx]
  focal = rng.uniform(950, 1150)
  h, w = IMG_SHAPE
  z = np.maximum(pts[..., 2], 0.5)
  # Kinect x points to the image's left, hence the minus sign.
  xy = np.stack([w / 2 - focal * pts[..., 0] / z, h / 2 - focal * pts[..., 1] / z], -1)
  xy += rng.normal(0.0, rng.uniform(1.0, 4.0), xy.shape)
  score = np.clip(rng.uniform(0.75, 0.98) - np.abs(rng.normal(0, 0.08, vis.shape)), 0.05, 1.0)
  results['keypoint'] = np.where(vis[..., None], xy, 0.0).astype(np.float32)
  results['keypoint_score'] = np.where(vis, score, 0.0).astype(np.float32)
  results['img_shape'] = IMG_SHAPE
  results['original_shape'] = IMG_SHAPE
  return results


def clip_label(index: int, *, seed: int, key: int, num_classes: int = len(ACTIONS)) -> int:
  """Label of clip ``index``: each block of ``num_classes`` clips is a seeded permutation of all classes."""
  block, slot = divmod(index, num_classes)
  return int(np.random.default_rng([seed, key, block, 7]).permutation(num_classes)[slot])


def split_key(split: str) -> int:
  """A stable integer for a split name, mixed into the per-clip seeds."""
  return int.from_bytes(split.encode()[:8].ljust(8, b'\0'), 'little')


def generate_split(split: str, num_examples: int, *, seed: int = 0, edition: str = 'ntu25_3d',
                   min_frames: int = 50, max_frames: int = 120, start: int = 0) -> Iterator[dict]:
  """Yields clips ``start .. start + num_examples - 1`` of ``split``; clip i depends only on (seed, split, i).

  Classes are balanced over every run of ``len(ACTIONS)`` consecutive clips.
  """
  key = split_key(split)
  for i in range(start, start + num_examples):
    yield generate_clip(clip_label(i, seed=seed, key=key), np.random.default_rng([seed, key, i]), edition=edition,
                        frame_dir=f'synth_{split}_{i:05d}', min_frames=min_frames, max_frames=max_frames)
