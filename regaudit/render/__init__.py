"""Renderers: pure functions from a result value to text or rich renderables."""
