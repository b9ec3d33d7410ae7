"""CPU time of article extraction over a corpus of saved pages, in-process.

    python3 benchmarks/extraction_cpu.py --data ../shared/corpus [--repeats 3] [--code DIR]

Runs ``scraper.extract.extract_article`` once over every article page that the
corpus' expected.json lists (feeds and sitemaps skipped), ``--repeats`` times, and
prints the CPU time (``time.process_time``, less disturbed by the other processes
on a shared machine than the wall clock) of each pass, the best pass and the
mean per page.  ``--code DIR`` measures another checkout of the project (e.g. a
worktree at an earlier commit), so a before/after pair runs the same script.
The work is bounded (one call per page per pass), never timed loops.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    """Print the CPU seconds of each pass over the corpus pages."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the corpus folder (with expected.json)")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the corpus (default 3)")
    parser.add_argument("--code", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the project checkout to measure (default: this one)")
    args = parser.parse_args()
    if not (args.data / "expected.json").is_file():
        print(f"no expected.json in {args.data}", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.code.resolve()))
    from scraper.extract import extract_article

    expected = json.loads((args.data / "expected.json").read_text(encoding="utf-8"))
    pages = [((args.data / key).read_bytes(), exp.get("url") or None) for key, exp in expected.items()
             if not key.startswith("_") and isinstance(exp, dict) and "kind" not in exp]
    extract_article(*pages[0])  # imports (trafilatura, htmldate) outside the measured passes
    passes = []
    for _ in range(max(1, args.repeats)):
        start = time.process_time()
        for html, url in pages:
            extract_article(html, url)
        passes.append(time.process_time() - start)
    best = min(passes)
    print(f"code {args.code.resolve()}: {len(pages)} pages, passes "
          + ", ".join(f"{p:.2f}" for p in passes)
          + f" s CPU; best {best:.2f} s, {1000 * best / len(pages):.0f} ms a page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
