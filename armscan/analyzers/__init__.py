"""Analyzers turn collected files into findings."""
