#!/usr/bin/env bash
# Set up a fresh Debian machine for cvgr: system packages, then a virtual environment in .venv.
# Idempotent: a second run only checks. Usage: bash tools/setup.sh [--with-slurm]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
if [ "${1:-}" = "--with-slurm" ]; then
  command -v slurmctld >/dev/null || need_apt+=(slurm-wlm)
  command -v munged >/dev/null || need_apt+=(munge)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
  else
    echo "cvgr setup: please install the Debian packages: sudo apt-get install ${need_apt[*]}" >&2
    [ "${1:-}" = "--with-slurm" ] && exit 1
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.cvgr-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  # torch/torchvision are pinned in pyproject.toml (torch==2.14.1, torchvision==0.29.1).
  .venv/bin/python -m pip install -q -e '.[test]'
  # torchattacks: the masking audit's APGD and Square (cvgr.attacks.apgd, cvgr.attacks.square) and the tests' FGSM/PGD oracle.
  # --no-deps: its metadata pins requests~=2.25.1, which would downgrade the requests Snakemake uses;
  # it imports only torch, numpy and scipy, all among pyproject.toml's dependencies.
  .venv/bin/python -m pip install -q --no-deps torchattacks==3.5.1
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import torch, torchvision, snakemake, torchattacks, cvgr; print('cvgr setup: torch', torch.__version__, '| torchvision', torchvision.__version__, '| torchattacks', torchattacks.__version__, '| cvgr', cvgr.__version__)"
