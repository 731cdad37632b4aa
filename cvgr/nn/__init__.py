"""Layers and architectures: phase-to-magnitude complex layers and the paper's nets."""
from .architectures import ARCHITECTURES, DESIGN_SHAPES, FIELDS, Net, build_model
from .complex import MODES, ComplexConv2d, ComplexLinear, GroupSum, PhaseScale, PhaseWarp, set_mode

__all__ = ["ARCHITECTURES", "DESIGN_SHAPES", "FIELDS", "MODES", "ComplexConv2d", "ComplexLinear",
           "GroupSum", "Net", "PhaseScale", "PhaseWarp", "build_model", "set_mode"]
