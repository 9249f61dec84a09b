"""Reading XLA's compiled HLO text in tests that check what XLA:CPU fused."""

from __future__ import annotations


def fused_computations(hlo: str) -> list[str]:
  """The body of every fused computation (``%fused...``) in a compiled module's text, one string each."""
  bodies, body, fused = [], [], False
  for line in hlo.split('\n'):
    if line.endswith('{') and not line.startswith(' '):  # a computation's header
      body, fused = [], line.startswith('%fused')
    elif line.startswith('}'):
      if fused:
        bodies.append('\n'.join(body))
      fused = False
    else:
      body.append(line)
  return bodies
