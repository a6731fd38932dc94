"""Stages. Every module here is imported by :mod:`pipeline.registry`; each registers one processor."""
