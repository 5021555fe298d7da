import sys

from gnnx.cli import main

sys.exit(main())
