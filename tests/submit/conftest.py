"""The submit tests share helpers that sit beside them (``oracle``, ``meaning``,
``known_differences``, ``cases``); with ``--import-mode=importlib`` pytest does not put
this directory on ``sys.path`` itself."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
