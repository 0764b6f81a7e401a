"""armscan: ARM migration readiness scanner."""

__version__ = "0.1.0"
