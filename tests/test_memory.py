"""Peak memory of an `ask` process (issue 24): every case `rag bench` measures stays under a bound.

The peak is read by rag.tools.bench.peak_rss_run, which starts the command under a small Python: a child's
ru_maxrss counts the memory of the process it was started from, and this pytest process may hold the models.
"""

import os

from rag.tools.bench import peak_rss_run
from tests.conftest import BIN, CORPUS

# Measured here (2 cores): 256-267 MB when `ask` must build the index first, 213-222 MB on a current index; 353-361
# and 234-239 MB before the encoder sessions gave back their activations after each run (README, Speed). The target
# is 300 MB; the bound leaves room for other builds of onnxruntime and numpy, and still fails the old code.
ASK_PEAK_MB = 320
QUESTION = "Who is the founder of Huawei?"


def test_ask_peak_rss_with_the_trained_models_loaded(tmp_path, embedder):
    embedder.dim  # the ONNX export exists (made once per machine, with torch: `rag index` pays for it, not this)
    env = {**os.environ, "RAG_CORPUS_DIR": str(CORPUS), "RAG_INDEX_DIR": str(tmp_path / "index")}
    peaks = {}
    for label, args in (("ask, building the index first", ["--json"]), ("ask --json", ["--json"]),
                        ("ask --json --no-llm", ["--json", "--no-llm"])):
        result, peak, _ = peak_rss_run([str(BIN / "ask"), *args, QUESTION], env, timeout=300)
        assert "Ren Zhengfei" in result.stdout, result.stderr  # answered with the trained ranker, as before
        peaks[label] = round(peak)
    assert max(peaks.values()) < ASK_PEAK_MB, peaks
