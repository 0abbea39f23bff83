"""The one lock every Python-level launch of a parallel numba kernel of ictgis holds."""

from __future__ import annotations

import threading

#: numba's default "workqueue" threading layer is not thread-safe: parallel kernels launched from two Python threads
#: at once (a web request and a background computation, say) can crash the process. Every Python-level launch of a
#: parallel kernel in ictgis holds this lock.
PARALLEL_LOCK = threading.RLock()
