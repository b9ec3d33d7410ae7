"""A search never loads Scrapy or Twisted; index/ never imports them at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cold_search_does_not_import_scrapy_or_twisted(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from newsdesk.cli.main import main\n"
        "sys.argv = ['newsdesk', 'search', 'korea', '--home', sys.argv[1]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scrapy', 'twisted'))\n"
        "print('LOADED', bad)\n"
    )
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code, str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert "LOADED []" in out.stdout, out.stdout
    assert "scrapy" not in out.stderr and "twisted" not in out.stderr  # the -X importtime listing


def test_index_package_never_imports_scrapy() -> None:
    for path in (ROOT / "index").glob("*.py"):
        text = path.read_text()
        assert "import scrapy" not in text and "from scrapy" not in text, path
        assert "twisted" not in text, path


def test_scraper_never_imports_index() -> None:
    for path in (ROOT / "scraper").rglob("*.py"):
        text = path.read_text()
        assert "from index" not in text and "import index" not in text, path
