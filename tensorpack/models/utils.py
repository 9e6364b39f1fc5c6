"""Helpers shared by the layers."""
from typing import Any, List

__all__ = ["VariableHolder"]


class VariableHolder:
    """Gives access to the variables a layer created, as attributes.

    Layers attach one to their output: ``out.variables.W``, ``out.variables.b``.
    """

    def __init__(self, **kwargs: Any):
        """
        Args:
            kwargs: name -> variable.
        """
        self._vars = {}
        for k, v in kwargs.items():
            self._add_variable(k, v)

    def _add_variable(self, name, var):
        if name in self._vars:
            raise ValueError("VariableHolder already holds a variable named '{}'.".format(name))
        self._vars[name] = var

    def __setattr__(self, name, var):
        if name.startswith("_"):
            super().__setattr__(name, var)
        else:
            self._add_variable(name, var)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._vars[name]
        except KeyError:
            raise AttributeError("This layer has no variable '{}'; it has: {}.".format(
                name, ", ".join(self._vars) or "none")) from None

    def all(self) -> List[Any]:
        """Returns: list: all the held variables."""
        return list(self._vars.values())
