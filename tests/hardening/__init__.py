"""Hardening tests: fuzzed inputs, scale, failure modes."""
