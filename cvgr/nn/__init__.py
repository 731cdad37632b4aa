"""Layers and architectures: phase-to-magnitude complex layers and the paper's nets."""
from .architectures import ARCHITECTURES, DESIGN_SHAPES, FIELDS, Net, build_model
from .complex import MODES, ComplexConv2d, ComplexLinear, GroupSum, PhaseScale, PhaseWarp, set_mode
from .conv import Conv2d, set_conv_wgrad

__all__ = ["ARCHITECTURES", "DESIGN_SHAPES", "FIELDS", "MODES", "ComplexConv2d", "ComplexLinear", "Conv2d",
           "GroupSum", "Net", "PhaseScale", "PhaseWarp", "build_model", "set_conv_wgrad", "set_mode"]
