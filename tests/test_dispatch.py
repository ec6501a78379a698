from dataclasses import replace

from conftest import make_spec

from ablations.corpus import Corpus
from ablations.dispatch import dispatch


def test_a_failing_job_is_reported_with_its_log_and_the_others_still_run(corpus, tmp_path):
    good = make_spec(corpus, tmp_path, steps=10, eval_every=10)
    missing = Corpus(name="gone", sha256="0" * 64, tokens_path=str(tmp_path / "gone.u8"), n_tokens=1000)
    bad = replace(good, corpus=missing, variant="bad")
    lines = []
    progress = dispatch([bad, good], "local", parallel=1, log_dir=tmp_path / "logs", say=lines.append, poll_s=0.2)
    assert progress.done == 1 and len(progress.failed) == 1
    (failure,) = [line for line in lines if line.startswith("FAILED")]
    assert "bad seed 0" in failure and "gone.u8" in failure and progress.failed[0] in failure
    assert "No such file" in open(progress.failed[0]).read()
    assert lines[-1] == "1/2 done · 0 running · 1 failed"
    assert (good.run_dir / "summary.json").exists() and not (bad.run_dir / "summary.json").exists()
