#!/usr/bin/env bash
# Gather what the GPU machine lacks into .gpu-data/ (ignored by git): Fashion-MNIST's four raw .gz files
# (30 MB), the wheel of torchattacks (the audit) and pydantic's (cvgr's specs); with --wheels also the
# wheels of Snakemake and of Python-Markdown (the report's table pages) for CPython 3.12 (about 27 MB,
# for running the workflow there). It prints the bundle's size, for copying to a machine without network. Usage: bash tools/gpu_bundle.sh [--wheels]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-data
mkdir -p "$out"
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$out/"
pip_download() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$out/wheels" "$@"
}
mkdir -p "$out/wheels"
pip_download torchattacks==3.5.1
# cvgr's specs: pydantic and its compiled core (tools/gpu_check.py installs them where the image lacks them).
pip_download pydantic pydantic-core annotated-types typing-inspection
if [ "${1:-}" = "--wheels" ]; then
  # Snakemake's closure beyond a stock PyTorch image (numpy, pandas, pyyaml, jinja2, ... are there).
  pip_download annotated-types argparse-dataclass attrs certifi charset-normalizer conda-inject configargparse \
    docutils dpath fastjsonschema gitdb gitpython greenlet humanfriendly idna immutables jsonschema \
    jsonschema-specifications jupyter-core nbformat platformdirs psutil pulp pydantic pydantic-core referencing \
    requests rpds-py smart-open smmap snakemake==9.27.1 snakemake-interface-common \
    snakemake-interface-executor-plugins snakemake-interface-logger-plugins snakemake-interface-report-plugins \
    snakemake-interface-scheduler-plugins snakemake-interface-storage-plugins sqlalchemy sqlmodel tenacity \
    throttler traitlets typing-inspection urllib3 wrapt yte markdown
  python3 -m pip wheel -q --no-deps -w "$out/wheels" connection-pool==0.0.3   # published as a source only
fi
# Each pipe in an assignment of its own, so that set -e with pipefail stops on a failed du or ls.
size=$(du -sm "$out" | cut -f1)
wheels=$(ls "$out/wheels" | wc -l)
echo "gpu bundle: $out holds $wheels wheels and the raw data, ${size} MiB"
