"""The hook through which the CLI shows progress of long optimisation steps.

Library code never prints: the CLI sets :data:`FACTORY` (a rich bar on stderr,
left None under ``--quiet`` / ``--json``) and stages pass it down. This module
imports nothing, so ``trtc run``'s skip path stays as fast as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``FACTORY(description, total)`` returns a context manager yielding
#: ``update(done, total)``; None = no progress display.
FACTORY: Callable[[str, int], Any] | None = None
