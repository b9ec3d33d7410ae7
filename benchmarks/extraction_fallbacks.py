"""Score article extraction's fallback layers alone: the corpus pages with JSON-LD and meta tags removed.

    python3 benchmarks/extraction_fallbacks.py --data ../shared/corpus --scorer ../shared/eval/score_extraction.py [--tz UTC]

The shared scorer (`score_extraction.py`) scores `newsdesk extract` on whole pages,
where metadata decides most fields.  This script asks what is left when a page has
no JSON-LD and no <meta> tags at all (the selectors-less, generic path: printed
byline, <time>/htmldate, <title>/<h1>, trafilatura), using the scorer's own
per-page scoring so the numbers compare.  Nothing is written; pages are read only.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsdesk.cli.extract import extraction_json  # noqa: E402

_JSONLD = re.compile(r"<script[^>]*ld\+json[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
_META = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)


def _load_scorer(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the scorer from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Print mean per-field scores with and without the pages' metadata."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the corpus folder (with expected.json)")
    parser.add_argument("--scorer", type=Path, required=True, help="path of score_extraction.py")
    parser.add_argument("--tz", default=None,
                        help="zone for dates printed without one, as `newsdesk extract --tz` (default: unknown)")
    args = parser.parse_args()
    if not (args.data / "expected.json").is_file():
        print(f"no expected.json in {args.data}", file=sys.stderr)
        return 2
    scorer = _load_scorer(args.scorer)
    expected = json.loads((args.data / "expected.json").read_text(encoding="utf-8"))
    fields = ("title_exact", "authors_f1", "date_day", "date_minute", "body_f1")
    results: dict[str, dict[str, list[float]]] = {"whole page": {}, "no JSON-LD, no meta": {}}
    for key, exp in expected.items():
        if key.startswith("_") or not isinstance(exp, dict) or "kind" in exp:
            continue
        raw = (args.data / key).read_bytes()
        stripped = _META.sub("", _JSONLD.sub("", raw.decode("utf-8", "replace"))).encode("utf-8")
        for label, page in (("whole page", raw), ("no JSON-LD, no meta", stripped)):
            got = scorer.coerce(extraction_json(page, exp.get("url") or None, args.tz))
            for name, value in scorer.score_page(exp, got).items():
                if name in fields:
                    results[label].setdefault(name, []).append(value)
    print(f"{'pages':<22}" + "".join(f"{f:>13}" for f in fields))
    for label, scores in results.items():
        print(f"{label:<22}" + "".join(f"{statistics.mean(scores[f]):>13.3f}" for f in fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
