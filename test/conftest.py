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

"""Shared test fixtures: a tiny ``data/train``-layout folder (three box-labelled RGB images in VOC
xml), so a training run starts at once without the synthetic pool.

Also marks tests by what they need beyond the package (module by module, from the module's
source): ``shared`` for the data and peers in ``../shared`` beside this repository, ``venv`` for
what ``make venv`` builds (the pip ROS 2 toolchain, vision_msgs built from ``interfaces/``, the
pinned requirements). In a ROS 2 workspace, ``colcon test --pytest-args -m "not shared and not
venv"`` runs the rest."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

#: what in a test module's source means it reads ``../shared`` (data, peers, reference).
_SHARED = re.compile(
    r"""['"]shared['"]|\bSHARED\b|\.\./shared|release_keys|data/real|data/train""")
#: ... or needs this repository's venv setup (toolchain, requirements, built interfaces).
_VENV = re.compile(r"""\.venv\b|setup_venv|build_vision_msgs|requirements\.txt""")


def pytest_collection_modifyitems(config, items) -> None:
    """Add the ``shared`` / ``venv`` markers to the tests of modules that need them."""
    seen: dict[str, tuple[bool, bool]] = {}
    for item in items:
        path = str(item.fspath)
        if path not in seen:
            text = Path(path).read_text()
            seen[path] = (bool(_SHARED.search(text)), bool(_VENV.search(text)))
        shared, venv = seen[path]
        if shared:
            item.add_marker('shared')
        if venv:
            item.add_marker('venv')


VOC = """<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height>
<depth>3</depth></size><object><name>thing</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>
<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object></annotation>"""


@pytest.fixture(scope='module')
def voc_train_root(tmp_path_factory) -> Path:
    """Three 240x180 textured images, each with one labelled bright object."""
    root = tmp_path_factory.mktemp('train')
    images = root / 'rgb_boxes' / 'generated' / 'images'
    annots = root / 'rgb_boxes' / 'generated' / 'annotations'
    images.mkdir(parents=True)
    annots.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(3):
        img = cv2.GaussianBlur(rng.integers(0, 255, (180, 240, 3), dtype=np.uint8), (7, 7), 0)
        x1, y1 = int(rng.integers(20, 150)), int(rng.integers(20, 100))
        x2, y2 = x1 + 40, y1 + 50
        img[y1:y2, x1:x2] = (230, 60 * i, 40)
        cv2.imwrite(str(images / f'{i}.jpg'), img)
        (annots / f'{i}.xml').write_text(VOC.format(name=f'{i}.jpg', w=240, h=180, x1=x1, y1=y1,
                                                    x2=x2, y2=y2))
    return root
