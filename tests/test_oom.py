"""A device out-of-memory error becomes one line naming the job, the batch sizes and the config key to lower."""
import pytest
import torch

from cvgr.errors import CvgrError
from cvgr.runtime.oom import batch_memory_hint

# The text torch's CUDA caching allocator raises (torch 2.x), shortened.
CUDA_OOM = ("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which "
            "1.06 GiB is free. Of the allocated memory 75.12 GiB is allocated by PyTorch, and 1.50 GiB is reserved "
            "by PyTorch but unallocated.\nIf reserved but unallocated memory is large try setting "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.")


def test_simulated_cuda_oom_names_job_batch_sizes_and_key():
    with pytest.raises(CvgrError) as info:
        with batch_memory_hint("fmnist/complex-gr64-s0 (train)", {"batch_size": 4096, "eval batch": 1000},
                               "batch_size"):
            raise torch.cuda.OutOfMemoryError(CUDA_OOM)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == ("fmnist/complex-gr64-s0 (train) ran out of GPU memory (tried to allocate 2.00 GiB) at "
                   "batch_size=4096, eval batch=1000: lower batch_size in the config and rerun "
                   "(or run it on a device with more free memory)")
    assert info.value.__cause__ is None  # printed as one line, without torch's traceback


def test_other_errors_pass_through_unchanged():
    with pytest.raises(ValueError, match="boom"):
        with batch_memory_hint("job", {"chunk": 8192}, "nes.chunk"):
            raise ValueError("boom")
    with batch_memory_hint("job", {"chunk": 8192}, "nes.chunk"):
        pass
