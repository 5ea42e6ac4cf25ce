"""``python -m mockback``."""

from mockback.cli import main

main()
