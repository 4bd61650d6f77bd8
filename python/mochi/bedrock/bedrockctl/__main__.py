"""``python3 -m mochi.bedrock.bedrockctl ...``"""

import os
import sys

from ._cli import main

if __name__ == "__main__":
    # libmochi would log the errors this program reports itself: its log is
    # quiet unless MOCHI_LOG_LEVEL asks for it.
    os.environ.setdefault("MOCHI_LOG_LEVEL", "critical")
    sys.exit(main())
