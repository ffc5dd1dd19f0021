"""``python -m trtc``."""

import os
import sys

# `python -m` puts the current folder first on sys.path: a stray ./onnxruntime.py there
# would shadow the toolchain's own dependencies. Take it off before anything is imported
# (user code named by python: references is loaded by path, see trtc.usercode).
if sys.path and (sys.path[0] in ("", ".") or os.path.abspath(sys.path[0]) == os.getcwd()):
    del sys.path[0]

from trtc.cli.app import main  # noqa: E402 - after the sys.path fix above

if __name__ == "__main__":
    main()
