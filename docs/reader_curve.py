"""The reader's learning curve (issue 22): dev-folder first-choice precision and decline F1 against the number of
training questions. Trains the reader on 1,000 and 3,000 train questions (drawn at random) and on all of them,
into scratch folders; the shipped reader is not touched. About 45 minutes on two cores.

    .venv/bin/python docs/reader_curve.py            # writes docs/reader-curve.json and docs/reader-curve.png
    .venv/bin/python docs/reader_curve.py --pools DIR --states FILE --full-report FILE
                                                     # reuse candidate pools, token vectors (a pickle) and the
                                                     # report of a full run (`rag train --reader`'s reader.json)
"""

import argparse
import json
import pickle
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.tools import train_reader  # noqa: E402

SIZES = (1000, 3000, 0)  # 0: all


def point(rep: dict) -> dict:
    d = rep["dev_all"]
    return {"questions": rep["train_questions"], "p@1": d["p@1"], "mrr": d["mrr"], "decline_f1": d["decline_f1"],
            "declined": d["declined"], "wrongly_declined": d["wrongly_declined"], "ece": rep["dev_ece"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pools", type=Path)
    ap.add_argument("--states", type=Path)
    ap.add_argument("--full-report", type=Path)
    args = ap.parse_args()
    states = pickle.loads(args.states.read_bytes()) if args.states else None
    points = []
    for n in SIZES:
        if n == 0 and args.full_report:
            points.append(point(json.loads(args.full_report.read_text())))
        else:
            with tempfile.TemporaryDirectory() as out:
                rep = train_reader.run(Path(out), train_reader.ReaderConfig(max_questions=n), pools_dir=args.pools,
                                       states=states, echo=lambda m: print(m, file=sys.stderr))
            points.append(point(rep))
        print(json.dumps(points[-1]), flush=True)
    here = Path(__file__).parent
    (here / "reader-curve.json").write_text(json.dumps(points, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p["questions"] for p in points]
    for key, label in (("p@1", "dev P@1"), ("decline_f1", "dev decline F1"), ("mrr", "dev MRR")):
        ax.plot(xs, [p[key] for p in points], marker="o", label=label)
    ax.set_xscale("log")
    ax.set_xlabel("training questions")
    ax.set_ylim(0, 1)
    ax.set_title("The reader's learning curve (dev folders)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(here / "reader-curve.png", dpi=100)


if __name__ == "__main__":
    main()
