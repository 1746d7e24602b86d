"""The Central Asia weekly digest bot."""

__version__ = "0.1.0"
