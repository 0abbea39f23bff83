"""``python -m ictgis.cli``: the ``ictgis`` command."""

from . import main

main()
