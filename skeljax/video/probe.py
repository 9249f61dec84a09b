"""Checks on a video file before any decoding (exists, video extension, not cut short); full decoding.

The checks are plain Python (the main process runs them first, so a bad file fails at once with its
name). MP4 and QuickTime files are sequences of boxes (size, type); a file whose last box runs past its
end, or that has no ``moov`` box (the sample tables, written last by most muxers), was cut short while
copying or recording, which FFmpeg reports only as "moov atom not found". ``decode_videos`` decodes
whole videos in the pose environment.
"""

from __future__ import annotations

import pathlib
import struct
from collections.abc import Sequence

from skeljax.video import VIDEO_EXTENSIONS, VideoError, is_video, pose_env

# Top-level box types of ISO base media files (ISO/IEC 14496-12) and QuickTime.
_TOP_LEVEL_BOXES = {b'ftyp', b'moov', b'mdat', b'free', b'skip', b'wide', b'pnot', b'uuid', b'meta', b'moof',
                    b'mfra', b'styp', b'sidx', b'ssix', b'pdin', b'prft', b'emsg', b'PICT'}


def check_iso_boxes(path: pathlib.Path) -> None:
  """Raises ``VideoError`` when an MP4 / QuickTime file's boxes end past the file or lack ``moov``."""
  size = path.stat().st_size
  types = []
  with path.open('rb') as f:
    offset = 0
    while offset < size:
      f.seek(offset)
      header = f.read(16)
      if len(header) < 8:
        raise VideoError(f'{path}: truncated: {size - offset} stray bytes after the last complete box')
      box_size, box_type = struct.unpack('>I4s', header[:8])
      if offset == 0 and box_type not in _TOP_LEVEL_BOXES:
        return  # not box-structured: leave the verdict to the decoder
      if box_size == 1:  # 64-bit size follows the type
        if len(header) < 16:
          raise VideoError(f'{path}: truncated inside the header of its {box_type!r} box')
        box_size = struct.unpack('>Q', header[8:16])[0]
      elif box_size == 0:  # the box runs to the end of the file
        box_size = size - offset
      if box_size < 8:
        raise VideoError(f'{path}: damaged: box {box_type!r} at byte {offset} declares {box_size} bytes')
      if offset + box_size > size:
        raise VideoError(f'{path}: truncated: its {box_type.decode("latin1")!r} box declares {box_size} bytes '
                         f'from byte {offset}, but the file ends after {size} bytes')
      types.append(box_type)
      offset += box_size
  if b'moov' not in types:
    raise VideoError(f'{path}: truncated or unfinished: no moov box (sample tables); boxes found: '
                     f'{[t.decode("latin1") for t in types]}')


def check_video_file(path: str | pathlib.Path) -> pathlib.Path:
  """The path of a video that exists and is not visibly truncated; raises naming the file otherwise."""
  path = pathlib.Path(path)
  if not is_video(path):
    raise VideoError(f'{path}: not a video file name; expected one of {", ".join(VIDEO_EXTENSIONS)}')
  if not path.exists():
    raise FileNotFoundError(f'video file {path} does not exist')
  if not path.is_file():
    raise VideoError(f'{path}: not a file')
  if path.stat().st_size == 0:
    raise VideoError(f'{path}: empty file')
  if path.suffix.lower() in ('.mp4', '.mov'):
    check_iso_boxes(path)
  return path


def decode_videos(videos: Sequence[str | pathlib.Path]) -> list[dict]:
  """Decodes every frame of each video in the pose environment: ``frames``, ``fps``, ``height``, ``width``."""
  return pose_env.run_worker('probe', [str(check_video_file(v)) for v in videos], progress=None)['videos']
