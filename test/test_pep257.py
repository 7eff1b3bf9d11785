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

"""The ament_pep257 docstring lint (pydocstyle), with the Google convention our docstrings
follow (``Args:`` / ``Returns:`` / ``Raises:`` sections, as timm and pytracking write them)
instead of ament's default numpy-style section checks. As in ament's own convention, missing
docstrings of private-looking or trivial things (D100-D107) are not errors; also off: D205 / D415
(a summary may run over two lines), D209 (closing quotes may end the last text line) and D403
(a summary may start with a proper name such as LasHeR or CenterNet)."""

import pytest
from ament_pep257.main import main

#: what is checked; build/ holds generated message code (vision_msgs, foxglove_msgs), not ours.
PATHS = ['rgbx_tracker_ros', 'test', 'launch', 'bench', 'scripts', 'setup.py']
#: pydocstyle arguments (see the module docstring); after the paths, because ament_pep257's
#: options take any number of values.
PEP257_ARGS = ['--convention', 'google', '--exclude', 'build', '.venv', '--add-ignore',
               'D100,D101,D102,D103,D104,D105,D106,D107,D205,D209,D403,D415']


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257() -> None:
    rc = main(argv=[*PATHS, *PEP257_ARGS])
    assert rc == 0, 'Found docstring style errors / warnings (run the command above to list them)'
