"""Python dependency readiness: which distributions have wheels for an aarch64 target."""
