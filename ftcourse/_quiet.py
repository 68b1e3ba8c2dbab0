"""Library warnings that tell a learner nothing, silenced where they start: by message, category
and module, never globally. Installed when `ftcourse` is imported; each line says why.

Warnings that do teach something (a deprecated argument the chapter itself passes, a tokenizer
without a padding token) are left alone and explained on the chapter's page.
"""

from __future__ import annotations

import logging
import warnings

# (message regex, category, module regex): each matches one known warning and nothing else.
NOISE = (
    # The Trainer's DataLoader asks for pinned memory, which only exists with a GPU; on a CPU it
    # says so on every loader it builds.
    (r"'pin_memory' argument is set as true but no accelerator is found", UserWarning,
     r"torch\.utils\.data\.dataloader"),
    # Raised inside transformers when TRL or PEFT query a renamed property; nothing a reader calls.
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning, r"transformers\.modeling_utils"),
    # Prompt tuning prepends virtual tokens, so PEFT drops the position ids the Trainer passes:
    # the intended behaviour, repeated on every batch.
    (r"Position ids are not supported for parameter efficient tuning", UserWarning, r"peft\."),
    # PEFT looks up a local model's config on the hub when saving an adapter; offline (the ci
    # profile's tiny models) there is nothing to find, and the adapter is saved all the same.
    (r"Could not find a config file in", UserWarning, r"peft\."),
)


# (logger name, message start): log records of the same kind, dropped by a filter on that logger.
LOG_NOISE = (
    # bitsandbytes' CPU backend looks for an optional hub kernel on CPUs with AVX-512 BF16 and logs
    # when it is absent (always, offline); it falls back to its own kernel, which chapter 17 uses.
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community"),
)


class _DropMessages(logging.Filter):
    """Drops the log records whose message starts with one of `starts`."""

    def __init__(self, starts: tuple[str, ...]):
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.starts)


def silence_library_noise() -> None:
    for message, category, module in NOISE:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
    for name, start in LOG_NOISE:
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) and start in f.starts for f in log.filters):
            log.addFilter(_DropMessages((start,)))
