"""Ranking alone, today's order against the reader's (issue 22): over each folder's answerable questions, how often
the first of the ranker's 20 candidates answers (first-choice precision) and MRR, labels from the records' quotes
(and the teacher's grades where the folder has them); with the shipped reader's decline threshold, the share of
unanswerable questions whose best candidate it rejects. Candidate pools are the ranker's (rag/tools/train.py).

    .venv/bin/python docs/reader_ranking.py test        # or dev; writes docs/reader-ranking-<split>.json
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.engine.reader import load_reader  # noqa: E402
from rag.index.embed import Embedder  # noqa: E402
from rag.tools import questions, train_reader  # noqa: E402


def main(split: str) -> None:
    embedder = Embedder.from_settings(Settings.from_env())
    model = load_reader(Settings().ranker_dir)
    cfg = train_reader.ReaderConfig()
    out, every, every_z = {}, [], []
    for folder in questions.folders(split):
        exs = train_reader.folder_examples([folder], embedder, cfg)
        states = train_reader.token_states(exs, embedder, echo=lambda m: None)
        zs = [np.asarray([r.logit for r in model.read(states[ex.question], [states[s] for s in ex.sentences], ex.features)])
              if ex.sentences else np.zeros(0) for ex in exs]
        out[folder] = {"today": train_reader.quality(exs, train_reader.today_logits(exs)),
                       "reader": train_reader.quality(exs, zs, model.settings["threshold"], model.temperature)}
        print(folder, json.dumps(out[folder]), flush=True)
        every += exs
        every_z += zs
    out["all"] = {"today": train_reader.quality(every, train_reader.today_logits(every)),
                  "reader": train_reader.quality(every, every_z, model.settings["threshold"], model.temperature)}
    print("all", json.dumps(out["all"]))
    (Path(__file__).parent / f"reader-ranking-{split}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test")
