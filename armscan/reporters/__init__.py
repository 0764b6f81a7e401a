"""Reporters render one ScanResult; none of them analyzes anything."""
