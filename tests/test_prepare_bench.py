"""The preparation benchmark (ablations/bench/prepare_bench.py) measures what it names: the corpus's own size, a
time, and a peak RSS of the phase's process (at least the interpreter, at most the machine)."""

import os

from ablations.bench.prepare_bench import measure


def test_each_phase_reports_the_corpus_size_a_time_and_a_plausible_peak(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("a line to prepare, repeated\n" * 5000)
    for phase in ("bytes", "bpe:300"):
        m = measure(str(path), phase)
        assert m["bytes"] == path.stat().st_size and m["s"] > 0
        assert 10 < m["peak_rss_mb"] < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
