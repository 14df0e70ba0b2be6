"""``python -m scalper`` is the ``scalper`` command."""

from scalper.apps.cli import main

main()
