"""One build step that pyproject.toml cannot declare: the notebooks ship inside the wheel.

The notebooks (``notebooks/*.py``) and their profiles (``notebooks/profiles/*.yml``) live
beside the package in the source tree, where papermill, Jupytext and the book read them. A
wheel copies them into ``modcore/notebooks/``, where ``modcore.paths`` finds them when there
is no source tree, so ``pip install modcore-*.whl`` can run ``python -m modcore run``. An
editable install reads ``notebooks/`` in place and copies nothing. Everything else about the
package is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "modcore" / "notebooks"
        if target.exists():
            shutil.rmtree(target)  # a notebook deleted from the source must not survive in the wheel
        target.mkdir(parents=True)
        for pattern in ("*.py", "profiles/*.yml"):
            for source in NOTEBOOKS.glob(pattern):
                destination = target / source.relative_to(NOTEBOOKS)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildWithNotebooks})
