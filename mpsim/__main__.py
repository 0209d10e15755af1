import sys

from mpsim.cli.main import main

sys.exit(main())
