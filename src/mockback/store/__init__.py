"""Persistence behind one narrow seam (``Store``), with sqlite and in-memory backends."""
