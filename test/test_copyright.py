"""The ament_copyright lint: every source file carries the copyright notice and the Apache-2.0
header that package.xml's <license> declares."""

import pytest
from ament_copyright.main import main


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright() -> None:
    rc = main(argv=['.', 'test'])
    assert rc == 0, 'Found errors (add the header with: ament_copyright --add-missing ' \
                    '"The rgbx_tracker_ros authors" apache2 FILE)'
