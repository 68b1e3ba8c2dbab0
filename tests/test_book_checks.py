"""The checks `tasks.py` runs on the built book: raw TeX a reader would see, and page noise."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("html", [
    "<p>a change of $B$ moves the output</p>",  # generated Markdown read as plain text
    "<p>the rank $r(k+d)$ of the update</p>",
    "<p>inline \\(x\\) outside a math element</p>",
    "<p>display \\[x\\] outside a math element</p>",
])
def test_raw_tex_is_found(tasks, html: str) -> None:
    assert tasks.raw_math(html)


@pytest.mark.parametrize("html", [
    '<span class="math notranslate nohighlight">\\(B\\)</span>',  # what MathJax typesets
    '<div class="math notranslate nohighlight">\\[W = W_0 + BA\\]</div>',
    "<pre>print(f'$B$ and \\(x\\)')</pre>",  # code shows its source as it is
    "<p>it costs $5 and $10 a month</p>",  # prices are no math
])
def test_math_elements_code_and_prices_are_not_raw_tex(tasks, html: str) -> None:
    assert tasks.raw_math(html) == []


def test_python_warnings_are_recognised(tasks) -> None:
    text = "site-packages/x.py:12: FutureWarning: `a` is deprecated<br>UserWarning: pin_memory"
    assert [w for w, _ in tasks.PYTHON_WARNING.findall(text)] == ["FutureWarning", "UserWarning"]


def test_a_baseline_recorded_without_its_trainable_parameters_is_reported(tasks):
    charted = {"cnn/accuracy/lora": 0.87, "cnn/trainable_params/lora": 100, "cnn/accuracy/scratch": 0.96,
               "accuracy/untrained": 0.5, "accuracy/scratch": 0.8}
    assert tasks.uncharted_baselines(charted) == ["cnn/accuracy/scratch"]  # no method charted without prefix
    charted["cnn/trainable_params/scratch"] = 61_706
    assert tasks.uncharted_baselines(charted) == []
    charted["trainable_params/lora"] = 456
    assert tasks.uncharted_baselines(charted) == ["accuracy/scratch"]


def test_library_log_messages_are_found_and_progress_bars_are_not(tasks) -> None:
    def block(text: str) -> str:
        return f'<div class="output stderr highlight-myst-ansi"><div class="highlight"><pre><span></span>{text}</pre>'

    page = "".join([
        block("[transformers] The tokenizer has new PAD/BOS/EOS tokens that differ from the model config"),
        block("train: 100%|██████████| 40/40 [00:03&lt;00:00, 12.1it/s, loss=0.41]"),
        block("epoch 3: 8/8 [00:01, 6.02s/it]"),
        block("                                               \r"),
        block("Failed to load CPU gemm_4bit_forward from kernels-community: No module"),
    ])
    assert tasks.library_logs(page) == [
        "[transformers] The tokenizer has new PAD/BOS/EOS tokens that differ from the model config",
        "Failed to load CPU gemm_4bit_forward from kernels-community: No module",
    ]


def test_printed_trainer_logs_are_found(tasks) -> None:
    page = ("<pre><span></span>{'loss': '5.968', 'grad_norm': '1.762', 'epoch': '1'}\n"
            "{'eval_loss': '5.485', 'epoch': '1'}</pre>"
            "<pre><span></span>{'test_loss': '7.535'}</pre>"
            '<pre><span class="n">history</span> = [h["loss"] for h in log]</pre>')
    assert len(tasks.trainer_log_lines(page)) == 2  # one per output block that starts with a log dict
    assert tasks.trainer_log_lines('<pre><span></span>{"accuracy": 0.9}</pre>') == []
    # a dict the chapter prints itself, with numbers as numbers, is the chapter's own output
    assert tasks.trainer_log_lines("<pre><span></span>{'eval_loss_before': 8.6, 'eval_loss_after': 6.7}</pre>") == []
