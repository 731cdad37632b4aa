"""Device choice and determinism settings."""
import subprocess
import sys

import pytest
import torch

from conftest import REPO
from cvgr.runtime.device import select_device, set_determinism, uses_gpu
from cvgr.errors import CvgrError


def test_set_determinism_enables_deterministic_kernels_and_threads():
    old = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
           torch.backends.cudnn.deterministic)
    try:
        torch.use_deterministic_algorithms(False)
        set_determinism(1)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.get_num_threads() == 1
        assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
    finally:  # leave the process as it was for the tests after this one
        torch.set_num_threads(old[0])
        torch.use_deterministic_algorithms(old[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = old[2], old[3]


def test_device_choice_and_errors():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(CvgrError, match="allowed: auto, cpu, cuda"):
        select_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(CvgrError, match="torch sees no GPU: set device: auto or cpu"):
            select_device("cuda")
    with pytest.raises(CvgrError, match="threads must be >= 1"):
        set_determinism(0)


def test_uses_gpu_resolves_the_device_like_select_device():
    assert uses_gpu("cuda")  # even without a GPU here: the jobs may run on a machine that has one
    assert not uses_gpu("cpu")
    assert uses_gpu("auto") == (select_device("auto").type == "cuda")
    with pytest.raises(CvgrError, match="allowed: auto, cpu, cuda"):
        uses_gpu("tpu")


def test_uses_gpu_imports_torch_only_for_auto():
    """The workflow calls it at every parse; table and figure jobs need no torch."""
    code = ("import sys; from cvgr.runtime.device import uses_gpu; uses_gpu('cpu'); uses_gpu('cuda'); "
            "print('torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
