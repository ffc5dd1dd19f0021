"""Serving: the built artifact in the layout a model server loads (Triton's model repository)."""
