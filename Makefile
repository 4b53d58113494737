# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PY ?= python3
# Where torch comes from: empty uses pip's configured indexes; on a machine without a local CPU wheel set
# TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu" to avoid the multi-GB CUDA build.
TORCH_INDEX ?=
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(TORCH_INDEX)
	$(BIN)/pip install -q -e '.[service,dev,transformers,dask]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	mkdir -p out
	$(BIN)/screening scan corpora/examples/supplier --profile supplier --format table
	$(BIN)/screening scan corpora/examples/recruitment --profile recruitment --format table
	$(BIN)/screening scan corpora/examples/supplier --profile supplier --output out/supplier.jsonl --quiet
	$(BIN)/screening scan corpora/examples/recruitment --profile recruitment --format html --include-text \
		--output out/recruitment-report.html --quiet
	@echo "Results written to out/supplier.jsonl and out/recruitment-report.html"

test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check screening service tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) out
