"""``python -m d365local``."""

from d365local.cli import main

main()
