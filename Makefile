# mexlab — two commands on a fresh machine:
#   make run    installs everything (system packages too) into .venv and starts mexlab on the simulated rig
#   make test   installs the same plus the test tools and runs the whole test suite (CI: a skip fails)
#   make test-fast  the pure-logic tests only (no Qt, LSL, LabRecorder, rig, PostgreSQL, root, face model,
#                   training or Flower)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# system libraries: librealsense (libusb), Qt/OpenCV/MediaPipe (GL, EGL, glib, xkb, xcb), Xvfb for real
# windows in tests and screenshots, PostgreSQL for the catalog tests against a real server, iproute2
# for the recording test in a network namespace without multicast
APT_PACKAGES := libusb-1.0-0 libgl1 libegl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 \
	libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 \
	libxcb-render-util0 libxcb-image0 libxcb-xinerama0 libpulse0 xvfb xauth postgresql iproute2

.PHONY: run test test-fast lint install install-test system-deps bench screenshots clean help

help:
	@echo "make run   - install and start mexlab on the simulated rig"
	@echo "make test  - install and run the whole test suite (a skipped test fails: MEXLAB_REQUIRE_ALL=1)"
	@echo "make lint  - ruff: lint and format check (make test runs it first)"
	@echo "make test-fast - the pure-logic tests (markers in pyproject.toml), in under a minute"
	@echo "make screenshots - the documentation's images (docs/img/) from the real windows"
	@echo "make bench - run the benchmarks (figures for docs/benchmarks.md)"

system-deps:
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	    echo "installing system packages:$$missing"; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	  fi; \
	else echo "not a Debian/Ubuntu system: install libusb-1.0, OpenGL/EGL, xcb and Xvfb yourself"; fi

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e ".[test]"
	touch $@

install: system-deps $(VENV)/.installed
install-test: system-deps $(VENV)/.installed-test

run: install
	$(VENV)/bin/mexlab gui --simulate

# CI's machine has every part the suite touches: there a skipped test is a failure (tests/skip_policy.py).
# On a machine without PostgreSQL, root or ../shared: make test MEXLAB_REQUIRE_ALL=0
MEXLAB_REQUIRE_ALL ?= 1
# what a test touches (markers registered in pyproject.toml); test-fast leaves these out
HEAVY_MARKS := slow or gui or lsl or labrecorder or rig or postgres or netns or privileged or face_model or learning

lint: | $(VENV)/.installed-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test lint
	MEXLAB_REQUIRE_ALL=$(MEXLAB_REQUIRE_ALL) QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider

test-fast: | $(VENV)/.installed-test
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q -p no:cacheprovider -m "not ($(HEAVY_MARKS))" --durations=10

screenshots: install
	QT_QPA_PLATFORM=offscreen $(PY) docs/screenshots.py

bench: install-test
	$(PY) bench/record_throughput.py
	$(PY) bench/sync_accuracy.py

clean:
	rm -rf $(VENV) build *.egg-info
