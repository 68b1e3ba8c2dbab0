"""The versions the test phases run, for `python -m ftcourse doctor` to compare against.

An installed copy of ftcourse (Colab's `pip install git+...`) has no constraints files, so the
versions they pin are kept here too; tests/test_doctor.py fails when this table and
constraints.txt, constraints-colab.txt or the Colab install record disagree.
"""

# distribution -> the versions tested: the newest pins (constraints.txt, the `unit` and
# `notebooks` phases) and the Colab stack (constraints-colab.txt plus what the chapters' install
# cells add or upgrade there, the `colab` phase). torch: the 2.13.0 CPU wheel in both.
TESTED: dict[str, tuple[str, ...]] = {
    "torch": ("2.13.0",),
    "numpy": ("2.4.6", "2.1.3"),
    "matplotlib": ("3.11.2", "3.10.0"),
    "transformers": ("5.23.0", "5.15.0"),
    "tokenizers": ("0.23.3", "0.22.2"),
    "datasets": ("5.2.0", "4.0.0"),
    "huggingface-hub": ("2.4.0", "1.27.0", "1.33.0"),
    "accelerate": ("1.15.0", "1.14.0"),
    "torchmetrics": ("1.9.0",),
    "scikit-learn": ("1.9.1", "1.6.1"),
    "peft": ("0.21.2", "0.20.0"),
    "trl": ("1.16.0",),
    "seqeval": ("1.2.2",),
    "rouge-score": ("0.1.2",),
    "fastapi": ("0.165.0", "0.141.1"),
    "uvicorn": ("0.54.0", "0.52.3"),
    "ipykernel": ("7.4.0", "6.17.1"),
    "jupyter-client": ("8.10.0", "7.4.9"),
}
