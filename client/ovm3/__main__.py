"""``python -m ovm3``: the ``ovm3`` command."""
import sys

from ovm3.cli.main import main

sys.exit(main())
