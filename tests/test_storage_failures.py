"""Storage failures: a checkpoint save that fails part-way, a damaged array_record shard, a dataset built by
another version of its builder. Each must fail with a message that names the file and says what to do, and
leave what was good readable."""

from __future__ import annotations

import errno
import json
import shlex
import shutil

import numpy as np
import pytest
from orbax.checkpoint._src.handlers import json_checkpoint_handler

from data_builders import build
from skeljax import checkpointing, models, train
from skeljax.data import loader, sources
from test_train import TOY, toy_config, toy_data

NAME = 'synthetic_skeleton/ntu25_3d'
VERSION_DIR = 'synthetic_skeleton/ntu25_3d/1.0.0'
TRAIN_SHARD = f'{VERSION_DIR}/synthetic_skeleton-train.array_record-00000-of-00001'


@pytest.fixture(autouse=True)
def _register_toy(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'toy', TOY)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  path = tmp_path_factory.mktemp('tfds')
  build.build(NAME, data_dir=path, max_examples_per_split=8)
  return path


@pytest.fixture
def data_dir(built, tmp_path):
  """A copy of the built dataset that a test may damage."""
  return shutil.copytree(built, tmp_path / 'tfds')


# ----- checkpoints -----

def _full_disk_at(step: int):
  """A JSON writer that fails like a full disk for one step's checkpoint; the arrays are already written."""
  original = json_checkpoint_handler.JsonCheckpointHandler._save_fn  # pylint: disable=protected-access

  async def save_fn(self, x, directory):
    if f'/{step}.orbax-checkpoint-tmp' in str(directory):
      raise OSError(errno.ENOSPC, 'No space left on device', str(directory))
    return await original(self, x, directory)

  return save_fn


@pytest.mark.parametrize('asynchronous, resume', [
    (False, False),
    pytest.param(True, True, marks=pytest.mark.slow),  # the background failure, and a real resume (~15 s)
])
def test_a_failed_save_leaves_the_previous_checkpoint_and_resume_picks_it(tmp_path, monkeypatch, asynchronous,
                                                                          resume):
  cfg = toy_config(num_epochs=2)  # 3 steps an epoch; saves at 2, 3 (epoch end), 4, 6
  cfg.checkpoint.every_steps = 2
  cfg.checkpoint['async'] = asynchronous
  with monkeypatch.context() as patch:
    patch.setattr(json_checkpoint_handler.JsonCheckpointHandler, '_save_fn', _full_disk_at(4))
    with pytest.raises(checkpointing.CheckpointSaveError) as error:
      train.train_and_evaluate(cfg, tmp_path, data=toy_data(cfg))
  message = str(error.value)
  # A synchronous save fails in place; an asynchronous one when the loop next waits for it.
  assert 'No space left on device' in message and '/4.orbax-checkpoint-tmp/' in message
  assert 'intact (latest: step 3, which a restart resumes from)' in message
  # What was written of step 4 is not a step: every reader, and the manager a resumed run asks, sees step 3.
  assert (tmp_path / 'checkpoints' / '4.orbax-checkpoint-tmp').is_dir()
  assert checkpointing.resolve_checkpoint('latest', tmp_path).name == '3'
  assert checkpointing.load_meta(tmp_path / 'checkpoints' / '3')['step'] == 3
  checkpointing.load_model_state(tmp_path / 'checkpoints' / '3')
  manager = checkpointing.create_manager(tmp_path, cfg.checkpoint)
  assert manager.latest_step() == 3
  manager.close()
  if resume:
    resumed = train.train_and_evaluate(cfg, tmp_path, data=toy_data(cfg))
    assert resumed['step'] == 6 and not resumed['preempted']
    assert checkpointing.resolve_checkpoint('latest', tmp_path).name == '6'


# ----- array_record shards -----

def test_a_truncated_shard_fails_at_open_and_the_printed_command_rebuilds_it(data_dir):
  shard = data_dir / TRAIN_SHARD
  shard.write_bytes(shard.read_bytes()[:100_000])
  with pytest.raises(sources.CorruptShardError) as error:
    sources.open_source(NAME, 'train', data_dir=data_dir)
  message = str(error.value)
  command = f'python -m data_builders.build {NAME} --data_dir={data_dir} --overwrite'
  assert message.startswith(f'{shard}: ') and message.endswith(command)
  # The command as printed (plus the test's small size) replaces the damaged copy.
  build.main(shlex.split(command)[3:] + ['--max_examples_per_split=8'])
  source = sources.open_source(NAME, 'train', data_dir=data_dir)
  assert len({source[i]['frame_dir'] for i in range(len(source))}) == 8


def test_a_corrupt_record_fails_when_read_naming_the_shard(data_dir):
  shard = data_dir / TRAIN_SHARD
  raw = bytearray(shard.read_bytes())
  raw[200:1200:7] = bytes(b ^ 0xFF for b in raw[200:1200:7])  # inside the first chunk of records
  shard.write_bytes(bytes(raw))
  source = sources.open_source(NAME, 'train', data_dir=data_dir)  # the footer is intact: it opens
  with pytest.raises(sources.CorruptShardError, match=rf'(?s)from {shard} \(record 0\): .*corrupt or truncated'):
    source[0]  # pylint: disable=pointless-statement
  # Through the loader too (in dataset order, so its first batch holds the damaged record).
  batches = loader.make_dataset(source, lambda r, rng: {'label': np.int32(r['label'])}, global_batch_size=4,
                                shuffle=False, num_epochs=1)
  with pytest.raises(Exception, match=rf'(?s){shard}.*--overwrite'):
    next(iter(batches))


# ----- builder versions -----

def test_a_dataset_built_by_another_builder_version_says_which_and_how_to_rebuild(data_dir):
  old = data_dir / 'synthetic_skeleton/ntu25_3d/0.9.0'
  (data_dir / VERSION_DIR).rename(old)
  info = json.loads((old / 'dataset_info.json').read_text())
  (old / 'dataset_info.json').write_text(json.dumps(dict(info, version='0.9.0')))
  with pytest.raises(sources.DatasetVersionError) as error:
    sources.open_source(NAME, 'train', data_dir=data_dir)
  message = str(error.value)
  assert (f"'{NAME}' in {data_dir} was built by builder version 0.9.0, but this skeljax reads version 1.0.0"
          in message)
  assert f'python -m data_builders.build {NAME} --data_dir={data_dir}\n' in message
  assert isinstance(error.value, FileNotFoundError)  # skeljax.main prints it as a usage error, exit status 2
