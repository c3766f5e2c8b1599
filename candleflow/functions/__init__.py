"""User-defined functions: indicators and signals computed exactly in the stream.

What an operator's module imports (see docs/functions.md)::

    from candleflow.functions import Indicator, Mark, Param, Point, Signal, Window
"""

from candleflow.functions.api import (
    FunctionBar,
    FunctionConfigError,
    Indicator,
    Mark,
    Outputs,
    Param,
    Point,
    Signal,
    Window,
)

__all__ = ["FunctionBar", "FunctionConfigError", "Indicator", "Mark", "Outputs", "Param", "Point", "Signal", "Window"]
