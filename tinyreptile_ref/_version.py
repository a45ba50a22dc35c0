"""The package version: one place, read by the package, the vectors generator and setup."""
__version__ = "0.1.0"
