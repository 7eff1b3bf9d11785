"""The ament_flake8 lint of an ament_python package (ament's own configuration: max line length
99, the pycodestyle / pyflakes checks), over the package, its tests, launch files, benchmarks and
scripts."""

import pytest
from ament_flake8.main import main_with_errors


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8() -> None:
    rc, errors = main_with_errors(argv=[])
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
