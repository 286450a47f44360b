"""The recurrent garden: recurrent text models from their equations, for Keras 3."""

__version__ = "0.1.0"
