"""Builds a skeleton dataset into array_record files, without TensorFlow.

``tfds build`` cannot run without TensorFlow (its CLI imports a TF-only converter at import time), so this
module drives ``download_and_prepare`` itself. One command builds any dataset::

  python -m data_builders.build synthetic_skeleton/ntu25_3d --data_dir=~/tensorflow_datasets
  python -m data_builders.build ntu60/xsub_3d --manual_dir=/data/ntu --data_dir=~/tensorflow_datasets
  python -m data_builders.build custom_skeleton --pickle=/data/my.pkl --splits=train,val --data_dir=...

Options: ``--overwrite`` (build again over an existing copy, e.g. one with a damaged shard),
``--max_examples_per_split=N`` (smoke builds), ``--num_shards=N``, ``--beam`` (run the conversion
on Apache Beam; ``--beam_pipeline_options='direct_num_workers=8,direct_running_mode=multi_processing'`` or
``'runner=DataflowRunner,project=...'``; needs ``pip install apache-beam``, not installed by default), and
``--config_overrides='num_train=2000,seed=3'`` for generated datasets (the config gets a new name).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import tensorflow_datasets as tfds

import data_builders


def _parse_overrides(text: str) -> dict[str, str]:
  pairs = [p for p in text.split(',') if p.strip()]
  out = {}
  for pair in pairs:
    if '=' not in pair:
      raise ValueError(f'--config_overrides entry {pair!r} is not key=value')
    key, value = pair.split('=', 1)
    out[key.strip()] = value.strip()
  return out


def override_config(config: tfds.core.BuilderConfig, overrides: Mapping[str, Any]) -> tfds.core.BuilderConfig:
  """A copy of ``config`` with fields replaced, renamed so it never collides with the stock config."""
  fields = {f.name: f for f in dataclasses.fields(config)}
  values = {}
  for key, value in overrides.items():
    if key not in fields or key in ('name', 'version'):
      raise ValueError(f'config {config.name!r} has no overridable field {key!r}; '
                       f'fields: {sorted(set(fields) - {"name", "version"})}')
    current = getattr(config, key)
    values[key] = type(current)(value) if isinstance(current, (int, float, str)) else value
  suffix = '_'.join(f'{k}{v}' for k, v in sorted(values.items()))
  name = re.sub(r'[^A-Za-z0-9_]', '', f'{config.name}_{suffix}')
  return dataclasses.replace(config, name=name, **values)


def _beam_options(text: str | None):
  from data_builders import common  # pylint: disable=g-import-not-at-top
  common.beam_module()
  from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
  flags = [f'--{kv.strip()}' for kv in (text or '').split(',') if kv.strip()]
  return pipeline_options.PipelineOptions(flags)


def build(name: str, *, data_dir: str | os.PathLike, manual_dir: str | os.PathLike | None = None,
          max_examples_per_split: int | None = None, num_shards: int | None = None, beam: bool = False,
          beam_pipeline_options: str | None = None, config_overrides: Mapping[str, Any] | None = None,
          custom: Mapping[str, Any] | None = None, overwrite: bool = False) -> tfds.core.DatasetBuilder:
  """Builds ``<name>/<config>`` into ``data_dir`` and returns the prepared builder.

  An already built copy is kept unless ``overwrite``, which generates every split again in its place.
  """
  dataset, _, config_name = name.partition('/')
  cls = data_builders.builder_class(dataset)
  if dataset == 'custom_skeleton':
    from data_builders.custom_skeleton import custom_skeleton_dataset_builder as custom_mod  # pylint: disable=g-import-not-at-top
    kwargs = dict(custom or {})
    if config_name:
      kwargs.setdefault('name', config_name)
    if 'pickle' not in kwargs:
      kwargs['pickle'] = custom_mod.find_manual_pickle(manual_dir)
    config = custom_mod.custom_config(**kwargs)
  else:
    if custom:
      raise ValueError(f'--pickle/--splits/--num_classes only apply to custom_skeleton, not {dataset}')
    configs = {c.name: c for c in cls.BUILDER_CONFIGS}
    if not config_name:
      config_name = cls.BUILDER_CONFIGS[0].name
    if config_name not in configs:
      raise ValueError(f'{dataset} has no config {config_name!r}; configs: {", ".join(configs)}')
    config = configs[config_name]
  if config_overrides:
    config = override_config(config, config_overrides)
  download_config = tfds.download.DownloadConfig(
      manual_dir=None if manual_dir is None else os.fspath(pathlib.Path(manual_dir).expanduser()),
      max_examples_per_split=max_examples_per_split,
      num_shards=num_shards,
      beam_options=_beam_options(beam_pipeline_options) if beam else None,
      download_mode=(tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS if overwrite
                     else tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS))
  builder = cls(config=config, data_dir=os.fspath(pathlib.Path(data_dir).expanduser()),
                file_format='array_record', use_beam=beam)
  builder.download_and_prepare(download_config=download_config)
  return builder


def main(argv: Sequence[str] | None = None) -> None:
  """Command-line entry point (see the module docstring)."""
  parser = argparse.ArgumentParser(prog='python -m data_builders.build', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('name', help=f'<dataset>/<config>; datasets: {", ".join(data_builders.DATASETS)}')
  parser.add_argument('--data_dir', default=os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'))
  parser.add_argument('--manual_dir', default=None, help='folder holding the downloaded annotation files')
  parser.add_argument('--overwrite', action='store_true',
                      help='build again even if already built (replaces a damaged copy)')
  parser.add_argument('--max_examples_per_split', type=int, default=None)
  parser.add_argument('--num_shards', type=int, default=None)
  parser.add_argument('--beam', action='store_true', help='run the conversion on Apache Beam')
  parser.add_argument('--beam_pipeline_options', default=None,
                      help='comma-separated Beam options, e.g. direct_num_workers=8,direct_running_mode=multi_processing')
  parser.add_argument('--config_overrides', default='', help='key=value,... applied to the config')
  parser.add_argument('--pickle', default=None, help='custom_skeleton: the annotation pickle')
  parser.add_argument('--splits', default=None,
                      help='custom_skeleton: comma-separated split names (name or tfds_name=pickle_split)')
  parser.add_argument('--num_classes', type=int, default=None, help='custom_skeleton: number of classes')
  parser.add_argument('--layout', default=None, help='custom_skeleton: graph layout name (for reference)')
  args = parser.parse_args(argv)
  custom = {k: v for k, v in (('pickle', args.pickle), ('splits', args.splits),
                              ('num_classes', args.num_classes), ('layout', args.layout)) if v is not None}
  builder = build(args.name, data_dir=args.data_dir, manual_dir=args.manual_dir,
                  max_examples_per_split=args.max_examples_per_split, num_shards=args.num_shards,
                  beam=args.beam, beam_pipeline_options=args.beam_pipeline_options,
                  config_overrides=_parse_overrides(args.config_overrides), custom=custom or None,
                  overwrite=args.overwrite)
  splits = {k: v.num_examples for k, v in builder.info.splits.items()}
  print(f'Built {builder.name}/{builder.builder_config.name} {builder.version} in {builder.data_dir}: {splits}')


if __name__ == '__main__':
  main(sys.argv[1:])
