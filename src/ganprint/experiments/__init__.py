"""Declarative experiments (YAML protocols shipped in the package) and their runners."""
