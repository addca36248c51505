import sys

from geoembed.cli import main

sys.exit(main())
