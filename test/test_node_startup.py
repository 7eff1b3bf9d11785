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

"""tracker_node start-up as a user meets it: every configuration error is one clear line on stderr
and exit code 2 (no traceback, no second error); Ctrl-C at any time exits cleanly."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[1]
TINY = ['-p', 'variant:=test_tiny', '-p', 'checkpoint:=none', '-p', 'device:=cpu']


def _env() -> dict:
    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(101, 200))
    env['PYTHONUNBUFFERED'] = '1'
    return env


def _run(ros_args: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args', *ros_args]
    return subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=timeout)


def _assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    err = proc.stderr
    assert proc.returncode == 2, (proc.returncode, err[-2000:])
    assert 'Traceback' not in err and 'AttributeError' not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if 'cannot start' in ln]
    assert len(lines) == 1, err[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert 'trust_pickle' not in err


def test_missing_and_invalid_params_files(tmp_path: Path) -> None:
    _assert_one_line_error(_run(['--params-file', str(tmp_path / 'missing.yaml')]),
                           'params file')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('tracker_node:\n  ros__parameters:\n    slop: [unclosed\n')
    _assert_one_line_error(_run(['--params-file', str(bad)]), 'params file')


@pytest.mark.parametrize('args, fragments', [
    (['-p', 'slop:=abc'], ("slop='abc'", 'expected a number')),
    (['-p', 'slop:=0.9'], ('slop < x_timeout',)),
    (['-p', 'modality:=sonar'], ('modality', 'thermal')),
    (['-p', 'initial_box:=[1.0, 2.0]'], ('initial_box',)),
])
def test_bad_parameters(args: list[str], fragments: tuple) -> None:
    _assert_one_line_error(_run(TINY + args), *fragments)


def test_onnxruntime_backend_starts_and_reports_itself(tmp_path: Path) -> None:
    code, out = _start_and_interrupt(TINY + ['-p', 'backend:=onnxruntime',
                                             '-p', f'engine_cache:={tmp_path}'])
    assert code == 0, out[-3000:]
    assert 'backend onnxruntime (CPUExecutionProvider)' in out, out[-3000:]
    assert len(list(tmp_path.glob('*/test_tiny.search.onnx'))) == 1
    # a GPU-only backend on the CPU is a one-line error
    _assert_one_line_error(_run(TINY + ['-p', 'backend:=tensorrt']), "backend='tensorrt'")


def test_unknown_variant_and_garbage_checkpoint(tmp_path: Path) -> None:
    _assert_one_line_error(_run(['-p', 'variant:=no_such_variant', '-p', 'checkpoint:=none',
                                 '-p', 'device:=cpu']), 'no_such_variant')
    junk = tmp_path / 'junk.pt'
    junk.write_bytes(os.urandom(4096))
    _assert_one_line_error(_run(['-p', f'checkpoint:={junk}', '-p', 'device:=cpu']),
                           'is not a PyTorch checkpoint', str(junk))
    _assert_one_line_error(_run(['-p', f'checkpoint:={tmp_path / "nope.pt"}', '-p',
                                 'device:=cpu']), 'nope.pt')


def _start(ros_args: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, '-m', 'rgbx_tracker_ros.ros.tracker_node', '--ros-args', *ros_args]
    return subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 120.0) -> str:
    seen = ''
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f'{text!r} not seen; output:\n{seen[-3000:]}')


def _start_and_interrupt(ros_args: list[str]) -> tuple[int, str]:
    """Start the node, wait until it listens, Ctrl-C it: (exit code, all its output)."""
    proc = _start(ros_args)
    try:
        seen = _wait_for(proc, 'listening on')
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)   # a loaded CI machine shuts down slowly
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, seen + rest


def test_integer_for_a_float_starts_and_ctrl_c_exits_cleanly() -> None:
    code, out = _start_and_interrupt(TINY + ['-p', 'slop:=0', '-p', 'x_timeout:=1'])
    assert code == 0, out[-3000:]
    assert 'Traceback' not in out and 'Error' not in out.replace('error', ''), out[-3000:]


def test_ctrl_c_during_model_load_exits_cleanly() -> None:
    # the default model: loading it takes seconds, so SIGINT lands during the load
    proc = _start(['-p', 'device:=cpu'])
    try:
        time.sleep(2.0)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    assert 'Traceback' not in out and 'AttributeError' not in out, out[-3000:]
