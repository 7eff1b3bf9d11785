# rgbx_tracker_ros developer entry points. Everything runs inside .venv, which `make venv` creates
# from a clean clone (scripts/setup_venv.sh: pinned requirements.txt, editable install, vision_msgs
# built from interfaces/). A stamp makes repeated calls instant.
#
#   make venv    create/update .venv            make test    pytest on test/
#   make demo    run the demo (DEMO_ARGS=...)   make bench   run bench/run_bench.py (BENCH_ARGS=...)
#   make soak    10-min fault soak of the node (SOAK_ARGS=--seconds 60)
#   make train   train the default CPU model (s14_224_d8 on DINOv2) into checkpoints/s14_224_d8_cpu.pt
#   make train-families  train every family's adapters on the RGB tracker (FAMILY_STEPS each)
#   make train-student   distil the default model into the 60 FPS CPU student (t224_student)
#   make train-student3  the 3-block student (t224_student3), started from t224_student
#   make clean   remove build/test/demo outputs  make distclean  also remove .venv

SHELL := /bin/bash
.DEFAULT_GOAL := help

REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV ?= $(REPO)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rgbx_setup.stamp
SETUP_INPUTS := requirements.txt setup.py setup.cfg package.xml scripts/setup_venv.sh \
	scripts/build_vision_msgs.sh $(shell find interfaces -type f 2>/dev/null | LC_ALL=C sort)

# --- environment for every target: the venv plays the role of a sourced ROS 2 install ---
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
export AMENT_PREFIX_PATH := $(VENV)
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
# Large images over best-effort QoS need Fast DDS' large-data transport ...
export FASTDDS_BUILTIN_TRANSPORTS := LARGE_DATA
# ... which must not be combined with localhost-only discovery: drop any inherited setting.
unexport ROS_AUTOMATIC_DISCOVERY_RANGE
unexport ROS_LOCALHOST_ONLY
export PYTHONUNBUFFERED := 1
export PIP_NO_INPUT := 1

# Extra arguments (placeholders; override on the command line).
PYTEST_ARGS ?=
DEMO_ARGS ?=
BENCH_ARGS ?=
SOAK_ARGS ?=
# The CPU recipe of the committed default model checkpoints/s14_224_d8_rgbx.pt (README, "The
# model"): DINOv2 ViT-S/14 (first 8 blocks) frozen, its output cached once for 9000 training pairs,
# the correlation center head trained over the cache; about 55 min on 2 cores. The feature caches
# (2.4 GB) go to build/ and are reused by a rerun with the same settings.
TRAIN_VARIANT ?= s14_224_d8
TRAIN_OUT ?= checkpoints/s14_224_d8_cpu.pt
TRAIN_ARGS ?= --init dinov2_vits14 --freeze-backbone --data-root ../shared/data/train \
	--video-ratio 0.35 --synthetic-ratio 0.2 --x-dropout 0.3 --cache-samples 9000 \
	--cache-val-samples 600 --iterations 1500 --batch-size 32 --lr 1e-3 --warmup 100 \
	--checkpoint-every 150 --threads 2 --seed 1 --cache-file build/train_cache/s14_224_d8.cache.pt
# The CPU recipe of the model-family comparison (BENCHMARKS.md, "Model families"): each family's
# adapters only (its trainable-name rule), on our frozen RGB tracker checkpoints/s14_224_d8_rgbx.pt,
# the same training data and mix as that tracker, batch 8 at the family's recipe learning rate,
# FAMILY_STEPS steps each (FAMILY_MINUTES caps the wall time), the checkpoint chosen on held-out pairs
# (--val-samples). Writes checkpoints/<variant>.pt (trained tensors only; the base is named in it).
FAMILY_VARIANTS ?= xtrack_s14 seatrack_s14 patrack_s14 vipt_s14 mmmp_s14
FAMILY_MINUTES ?= 30
FAMILY_STEPS ?= 60
FAMILY_ARGS ?= --init checkpoints/s14_224_d8_rgbx.pt --data-root ../shared/data/train \
	--video-ratio 0.35 --synthetic-ratio 0.2 --x-dropout 0.3 --batch-size 8 --warmup 5 \
	--iterations $(FAMILY_STEPS) --checkpoint-every 15 --val-samples 64 --threads 2 --seed 1 \
	--max-minutes $(FAMILY_MINUTES)
# The CPU student of the real-time issue (BENCHMARKS.md, "Distilled CPU student"): t224_student
# distilled from the default model (feature + response KD), its blocks from teacher blocks 0-3 and
# its 192 channels by weight selection, on the default model's data mix plus 15 % unlabelled real
# sequences; the checkpoint chosen on held-out pairs.
STUDENT_OUT ?= checkpoints/t224_student.pt
STUDENT_MIX = --data-root ../shared/data/train --synthetic-ratio 0.2 --video-ratio 0.3 \
	--unlabelled-ratio 0.15 --batch-size 16 --val-samples 128 --checkpoint-every 50 --threads 2 \
	--trainable all --loss-weights feat_kd=20
STUDENT_ARGS ?= --distill-from checkpoints/s14_224_d8_rgbx.pt --student-init teacher:0,1,2,3 \
	$(STUDENT_MIX) --lr 4e-4 --warmup 30 --iterations 850 --max-minutes 62 --seed 1
# The 3-block student (BENCHMARKS.md, "Distilled CPU student"): t224_student3 takes blocks 0-2 and
# everything outside the blocks from t224_student.pt (--init, all at the full learning rate) and is
# distilled again from the default model on the same mix.
STUDENT3_OUT ?= checkpoints/t224_student3.pt
STUDENT3_ARGS ?= --distill-from checkpoints/s14_224_d8_rgbx.pt --init checkpoints/t224_student.pt \
	--backbone-lr-scale 1.0 $(STUDENT_MIX) --lr 2e-4 --warmup 20 --iterations 750 \
	--max-minutes 50 --seed 2
JUNIT_XML ?= build/test-results/pytest.xml

.PHONY: help venv test demo bench soak train train-families train-student train-student3 clean distclean

help:
	@awk '!/^#/ {exit} {sub(/^# ?/, ""); print}' $(firstword $(MAKEFILE_LIST))

venv: $(STAMP)

$(STAMP): $(SETUP_INPUTS)
	VENV='$(VENV)' bash scripts/setup_venv.sh

# Each run gets its own ROS_DOMAIN_ID (unless one is given) so parallel runs do not cross-talk.
# pytest exit code 5 ("no tests collected") is a failure, not a success.
test: venv
	@mkdir -p $(dir $(JUNIT_XML))
	@export ROS_DOMAIN_ID="$${ROS_DOMAIN_ID:-$$(( 100 + $$$$ % 100 ))}"; \
	echo "make test: ROS_DOMAIN_ID=$$ROS_DOMAIN_ID AMENT_PREFIX_PATH=$$AMENT_PREFIX_PATH"; \
	rc=0; "$(PY)" -m pytest --junitxml="$(JUNIT_XML)" $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" -eq 5 ]; then \
		echo "make test: FAILED: pytest collected no tests (exit 5)" >&2; exit 5; \
	fi; \
	exit $$rc

demo: venv
	"$(PY)" -m rgbx_tracker_ros.cli.demo $(DEMO_ARGS)

bench: venv
	"$(PY)" bench/run_bench.py $(BENCH_ARGS)

# Soak benchmark: 10 min of 640x512 RGB + mono16 at 30 Hz with faults (SOAK_ARGS=--seconds 60 ...)
soak: venv
	@export ROS_DOMAIN_ID="$${ROS_DOMAIN_ID:-$$(( 100 + $$$$ % 100 ))}"; \
	"$(PY)" bench/soak.py $(SOAK_ARGS)

train: venv
	"$(PY)" -m rgbx_tracker_ros.cli.train --variant $(TRAIN_VARIANT) --out $(TRAIN_OUT) $(TRAIN_ARGS)

train-families: venv
	@set -e; for v in $(FAMILY_VARIANTS); do \
		lr=4e-4; case $$v in xtrack*) lr=1e-4;; esac; \
		echo "== $$v (lr $$lr: the authors' recipe, trackers.md 3.x)"; \
		"$(PY)" -m rgbx_tracker_ros.cli.train --variant $$v --out checkpoints/$$v.pt \
			--lr $$lr $(FAMILY_ARGS); \
	done
	@echo "== t224 student distilled from the mmmp_s14 teacher (response + feature KD)"
	"$(PY)" -m rgbx_tracker_ros.cli.train --variant t224 --out checkpoints/t224_mmmp_student.pt \
		--distill-from checkpoints/mmmp_s14.pt --init checkpoints/t224_demo.pt --trainable all \
		--lr 2e-4 $(filter-out --init checkpoints/s14_224_d8_rgbx.pt,$(FAMILY_ARGS))

train-student: venv
	"$(PY)" -m rgbx_tracker_ros.cli.train --variant t224_student --out $(STUDENT_OUT) $(STUDENT_ARGS)

train-student3: venv
	"$(PY)" -m rgbx_tracker_ros.cli.train --variant t224_student3 --out $(STUDENT3_OUT) \
		$(STUDENT3_ARGS)

clean:
	rm -rf build/ dist/ demo_out/ bench_out/ .pytest_cache/ *.egg-info/
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} + 

distclean: clean
	rm -rf "$(VENV)"
