"""The `full` profile rehearsed offline: a Hugging Face hub and download hosts on loopback.

`hub` serves repositories from local folders with the hub's HTTP API (enough of it for
`huggingface_hub`, `transformers` and `datasets` to run their own download code with
`HF_ENDPOINT` pointing at it); `standins` fills such a folder with small stand-ins for every
repository the `full` profile names; `hosts` serves the download artefacts in their real
archive layouts. Used by the `rehearsal` test phase; a learner never needs them. `realdata` runs
chapters on the real samples with the pretrained MiniLM standing in for the BERT-family
checkpoints, recording under `results/real-cpu/`.
"""
