# The two set-up commands of the README: `make demo` and `make test`.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all deps configure build demo test test-fast bench bench-batch synth-model ablation clean

all: build

deps:
	@bash .ci/install-deps.sh

configure: deps
	@mkdir -p $(BUILD_DIR)
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release > $(BUILD_DIR)/configure.log 2>&1 || (cat $(BUILD_DIR)/configure.log; exit 1)

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

DEMO_QUERY ?= the red square flashes

demo: build
	@$(BUILD_DIR)/apps/sfvu demo --out $(BUILD_DIR)/demo
	@$(BUILD_DIR)/apps/sfvu ground --model data/models/synth-tiny --query "$(DEMO_QUERY)" --no-cache \
	  --plot $(BUILD_DIR)/demo/synth_grounding.png data/samples/synth_demo.mp4
	@echo "grounding plot: $(BUILD_DIR)/demo/synth_grounding.png"

# Regenerates data/models/synth-tiny/ (20 min of CPU training) and data/samples/synth_demo.mp4.
synth-model: build
	@bash apps/bench/synth_model.sh $(BUILD_DIR)

# Slow-only vs fast-only vs slow+fast on the synthetic benchmark (3 x MINUTES of training).
MINUTES ?= 20
ablation: build
	@$(BUILD_DIR)/apps/sfvu bench ablation --work $(BUILD_DIR)/ablation --minutes $(MINUTES)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-fast: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE slow $(CTEST_ARGS)

bench: build
	@bash apps/bench/decode_bench.sh $(BUILD_DIR)
	@bash apps/bench/pathways_bench.sh $(BUILD_DIR)
	@bash apps/bench/batch_bench.sh $(BUILD_DIR)

# Batch throughput with and without prefetch (20 synthetic videos, the bundled model).
bench-batch: build
	@bash apps/bench/batch_bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
