# synthmir: `make report` builds everything, `make test` runs the test suite.
# Both set up first; `make setup` is idempotent and returns in about a second when done.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 8
# System packages: FluidSynth's library and every independent GM sound font Debian ships
# (except those reserved for independent evaluation, which are never installed).
SYSTEM_PACKAGES := libfluidsynth3 fluid-soundfont-gm timgm6mb-soundfont csound-soundfont \
  opl3-soundfont
# Tests also drive a real browser; the bench compares against the fluidsynth command line.
TEST_PACKAGES := chromium
BENCH_PACKAGES := fluidsynth
# Every system package the goals on the command line need, checked once, before the
# minutes-long pip install, so that a normal user gets one apt-get command for all of them.
NEEDED_PACKAGES := $(SYSTEM_PACKAGES) \
  $(if $(filter test setup-test,$(MAKECMDGOALS)),$(TEST_PACKAGES)) \
  $(if $(filter bench,$(MAKECMDGOALS)),$(BENCH_PACKAGES))

.PHONY: setup setup-test report test test-slurm bench lint serve clean
.DEFAULT_GOAL := report

# Install whatever of $(1) is missing: with apt-get as root, otherwise print the command.
define ensure_packages
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	  | grep -q "ok installed" || echo $$p; done; \
	  python3 -c "import ensurepip, venv" 2>/dev/null || echo python3-venv); \
	missing=$$(echo $$missing); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing system packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing system packages: $$missing"; \
	    echo "Run: sudo apt-get update && sudo apt-get install --no-install-recommends $$missing"; \
	    exit 1; \
	  fi; \
	fi
endef

setup: $(STAMP)
	$(call ensure_packages,$(NEEDED_PACKAGES))

# The virtual environment is rebuilt only when the pinned dependencies change.
$(STAMP): pyproject.toml
	$(call ensure_packages,$(NEEDED_PACKAGES))
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

# Its packages (chromium) are in NEEDED_PACKAGES whenever it, or `test`, is a goal.
setup-test: setup

# A run killed earlier (kill -9, OOM, power cut) left its lock: lift it when nothing runs here.
report: setup
	$(BIN)/python -m synthmir.workflow_lock
	$(BIN)/snakemake -j$(JOBS) results/report.html

test: setup-test
	$(BIN)/pytest

# The slurm profile on a throw-away single-node SLURM cluster (root; installs slurm-wlm, munge,
# slurmdbd and mariadb-server when missing, runs every daemon from a temp dir, stops them after).
test-slurm: setup
	SYNTHMIR_SLURM=1 $(BIN)/pytest -m slurm -rP tests/slurm/test_slurm.py

# Speed and accuracy figures into results/bench/*.json. Run on an otherwise idle machine.
# bench_generalization runs the whole default workflow in RUN (timed: make report's figures);
# the benches after it use that run's data and models.
RUN := results/bench/report_run
NOTES := $(RUN)/data/notes
bench: setup
	mkdir -p results/bench
	$(BIN)/python bench/bench_render.py --out results/bench/render.json
	$(BIN)/python bench/bench_features.py --out results/bench/features.json --big
	$(BIN)/python bench/bench_generalization.py --out results/bench/generalization.json \
	  --workdir $(RUN)
	$(BIN)/python bench/bench_long_audio.py --workdir $(RUN) --out results/bench/long_audio.json
	$(BIN)/python bench/bench_train.py --out results/bench/train.json \
	  --features $(NOTES)/features/timbre.h5 --splits $(NOTES)/splits.csv
	$(BIN)/snakemake -j2 -d $(RUN) results/models/gm16_pitchconv/evaluation/metrics.json \
	  --configfile $(CURDIR)/config/config.yaml $(CURDIR)/config/gm16.yaml
	$(BIN)/python bench/bench_predict.py --out results/bench/predict.json \
	  --model $(RUN)/results/models/instrument --clip $(NOTES)/audio/shard0/c000000.flac
	$(BIN)/python bench/bench_listen.py --out results/bench/listen.json \
	  --model $(RUN)/results/models/harmony_frames --hop 0.1 --models-dir $(RUN)/results/models
	$(BIN)/python bench/bench_audio_memory.py --out results/bench/audio_memory.json \
	  --model $(RUN)/results/models/instrument

lint: setup
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

serve: setup
	$(BIN)/synthmir serve

clean:
	rm -rf results logs benchmarks .snakemake
