"""Compile proof: ask the aarch64 compiler itself which files build for aarch64."""
