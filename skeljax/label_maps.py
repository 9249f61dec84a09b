"""Class names for predictions: NTU RGB+D 60/120 built in; other datasets numbered or read from a file.

``get_label_names(spec, num_classes)`` resolves a config's ``label_names`` field: ``'ntu60'`` / ``'ntu120'``
(the dataset authors' action names A001 ... A120), ``'synthetic'`` (the embedded synthetic actions), a path
to a text file with one name per line (blank lines and a trailing '.' are ignored, as in MMAction2's
``label_map_*.txt``), or None for ``class_0``, ``class_1``...
FineGYM, UCF101 and HMDB51 names differ between releases of their annotation files, so they come from a file.
"""

from __future__ import annotations

import pathlib

# The official NTU RGB+D action names (A001 ... A120); the first 60 are NTU RGB+D 60.
NTU120_NAMES: tuple[str, ...] = (
    'drink water', 'eat meal/snack', 'brushing teeth', 'brushing hair', 'drop', 'pickup', 'throw',
    'sitting down', 'standing up (from sitting position)', 'clapping', 'reading', 'writing', 'tear up paper',
    'wear jacket', 'take off jacket', 'wear a shoe', 'take off a shoe', 'wear on glasses', 'take off glasses',
    'put on a hat/cap', 'take off a hat/cap', 'cheer up', 'hand waving', 'kicking something',
    'reach into pocket', 'hopping (one foot jumping)', 'jump up', 'make a phone call/answer phone',
    'playing with phone/tablet', 'typing on a keyboard', 'pointing to something with finger', 'taking a selfie',
    'check time (from watch)', 'rub two hands together', 'nod head/bow', 'shake head', 'wipe face', 'salute',
    'put the palms together', 'cross hands in front (say stop)', 'sneeze/cough', 'staggering', 'falling',
    'touch head (headache)', 'touch chest (stomachache/heart pain)', 'touch back (backache)',
    'touch neck (neckache)', 'nausea or vomiting condition', 'use a fan (with hand or paper)/feeling warm',
    'punching/slapping other person', 'kicking other person', 'pushing other person',
    'pat on back of other person', 'point finger at the other person', 'hugging other person',
    'giving something to other person', "touch other person's pocket", 'handshaking',
    'walking towards each other', 'walking apart from each other',
    # NTU RGB+D 120 additions (A061 ... A120).
    'put on headphone', 'take off headphone', 'shoot at the basket', 'bounce ball', 'tennis bat swing',
    'juggling table tennis balls', 'hush (quite)', 'flick hair', 'thumb up', 'thumb down', 'make ok sign',
    'make victory sign', 'staple book', 'counting money', 'cutting nails', 'cutting paper (using scissors)',
    'snapping fingers', 'open bottle', 'sniff (smell)', 'squat down', 'toss a coin', 'fold paper',
    'ball up paper', 'play magic cube', 'apply cream on face', 'apply cream on hand back', 'put on bag',
    'take off bag', 'put something into a bag', 'take something out of a bag', 'open a box',
    'move heavy objects', 'shake fist', 'throw up cap/hat', 'hands up (both hands)', 'cross arms',
    'arm circles', 'arm swings', 'running on the spot', 'butt kicks (kick backward)', 'cross toe touch',
    'side kick', 'yawn', 'stretch oneself', 'blow nose', 'hit other person with something',
    'wield knife towards other person', 'knock over other person (hit with body)', "grab other person's stuff",
    'shoot at other person with a gun', 'step on foot', 'high-five', 'cheers and drink',
    'carry something with other person', 'take a photo of other person', 'follow other person',
    "whisper in other person's ear", 'exchange things with other person', 'support somebody with hand',
    'finger-guessing game (playing rock-paper-scissors)',
)
NTU60_NAMES: tuple[str, ...] = NTU120_NAMES[:60]



def _synthetic_names() -> tuple[str, ...]:
  from skeljax.data import synthetic  # pylint: disable=g-import-not-at-top
  return tuple(name.replace('_', ' ') for name in synthetic.ACTIONS)


BUILT_IN = {'ntu60': lambda: NTU60_NAMES, 'ntu120': lambda: NTU120_NAMES, 'synthetic': _synthetic_names}


def read_label_file(path: str | pathlib.Path) -> list[str]:
  """One class name per line; blank lines skipped, a trailing '.' dropped (MMAction2 label_map files)."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'label file {path} does not exist')
  names = []
  for line in path.read_text(encoding='utf-8').splitlines():
    name = line.strip()
    if name:
      names.append(name[:-1] if name.endswith('.') else name)
  if not names:
    raise ValueError(f'label file {path} has no class names')
  return names


def get_label_names(spec: str | None, num_classes: int | None = None) -> list[str]:
  """Class names for ``spec`` ('ntu60', 'ntu120', a file path, or None -> numbered), checked against num_classes."""
  if spec is None or spec == '':
    if num_classes is None:
      raise ValueError('need num_classes to number the classes when no label names are given')
    return [f'class_{i}' for i in range(num_classes)]
  if spec in BUILT_IN:
    names = list(BUILT_IN[spec]())
    source = f'built-in {spec!r}'
  else:
    names = read_label_file(spec)
    source = f'label file {spec}'
  if num_classes is not None and len(names) != num_classes:
    raise ValueError(f'{source} has {len(names)} class names but the model has {num_classes} classes')
  return names
