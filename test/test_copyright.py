# Copyright 2026 The rgbx_tracker_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

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
