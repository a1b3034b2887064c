"""``python -m wfc`` runs the ``wfc`` command."""

from wfc.cli.entry import main

main()
