# trtc: make demo (the main job on a fresh machine), make test (the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The PyTorch build that lies on this project's machines' disk (CUDA build, runs on CPU).
TORCH  ?= torch==2.14.1 torchvision==0.29.1
DIGITS_WEIGHTS := build/digits/train/weights.pt

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[torch,dev]'
	# Type stubs for mypy only; --no-deps because they depend on the tensorrt wheel.
	$(BIN)/python -m pip install -q --no-deps tensorrt-stubs==10.13.0.35.1
	touch $(STAMP)

$(DIGITS_WEIGHTS): scripts/digits.py | $(STAMP)
	$(BIN)/python scripts/digits.py --out $@

demo: install $(DIGITS_WEIGHTS)
	# Every stage, then build/digits/report.{md,html} and the Triton model repository
	# build/digits/package/triton/digits/ (config.pbtxt + 1/model.onnx).
	$(BIN)/trtc run configs/digits.yaml
	# Side by side on this machine: FP32 vs INT8 vs FP16 vs pruned, accuracy and latency.
	$(BIN)/python scripts/bench_optimize.py --models digits --duration 1 --out build/demo/digits-variants

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check trtc tests scripts
	$(BIN)/mypy trtc

bench: install $(DIGITS_WEIGHTS)
	$(BIN)/python scripts/bench_spine.py --out docs/bench-spine
	$(BIN)/python scripts/bench_optimize.py --out docs/bench-optimize

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
