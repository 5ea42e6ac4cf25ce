"""The HTTP door: the only package that knows the web frameworks."""
