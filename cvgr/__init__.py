"""cvgr: gradient-regularized complex-valued neural networks and their adversarial robustness.

Reproduces Yeats, Chen, Li, "Improving Gradient Regularization using
Complex-Valued Neural Networks" (ICML 2021). The method is specified in
docs/METHOD.md; every module's docstring states the math it implements.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("cvgr")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"
