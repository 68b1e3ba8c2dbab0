# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Inference cookbook: by hand and with `pipeline()`
#
# A pre-trained model from the Hugging Face hub comes as two pieces: a **tokenizer** (text to
# token ids) and a **model** (token ids to scores). Every inference task runs the same four steps:
#
# 1. tokenize the text into ids (plus an attention mask),
# 2. run the model to get **logits**, unnormalised scores,
# 3. post-process: softmax into probabilities, argmax or sampling, decoding ids back to text,
# 4. map the result to something readable (a class name, a word, a sentence).
#
# `pipeline(task, model=..., tokenizer=...)` wraps those four steps in one call. For each task
# below we first do the steps **by hand**, then call the pipeline, and check that both give the
# same answer, so the pipeline stops being a black box (the models are the source's, run on
# `full`):
#
# - **sentiment** (`distilbert-base-uncased-finetuned-sst-2-english`): softmax + argmax by hand,
#   then the `text-classification` pipeline;
# - **text generation** (`gpt2`): a greedy decoding loop, then `text-generation`;
# - **fill-mask** (`bert-base-uncased`): softmax at `[MASK]`, top-k, then `fill-mask`;
# - **language detection** (`papluca/xlm-roberta-base-language-detection`): the same as
#   sentiment, then `text-classification`;
# - **translation** (`t5-small`): a greedy encoder-decoder loop, then `model.generate`.
#
# On the `ci` profile nothing is downloaded: each model is a **tiny stand-in of the same family**
# (hidden size 64, 2 layers) with a tokenizer trained locally on generated text. As the hub
# models were pre-trained on the web, most stand-ins are pre-trained here, once, for a few
# seconds, on generated text from a small world whose facts the page can check (capitals and
# opposites, short stories, twenty generated languages, a small English-German-French lexicon);
# `hf.describe` below says what each one read. The sentiment stand-in starts from random weights,
# and we train it for a few seconds on generated movie reviews. Either way the by-hand and
# pipeline paths must agree exactly, which is the point of this chapter. Where it helps, we quote
# what the source's real models printed (their outputs, not ours).

# %% tags=["remove-cell"]
# Installs the companion package when this notebook runs in Colab.
import sys

if "google.colab" in sys.modules:
    # %pip install -q "ftcourse[hf] @ git+https://github.com/ftcourse/ftcourse@main"
    # !python -m ftcourse doctor
    pass

# %%
import math
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # text progress bars are fine

import torch
import ftcourse  # first: it quiets notices that importing transformers prints (ftcourse._quiet)
import transformers
from IPython.display import Markdown
from transformers import pipeline

from ftcourse import corpora, hf, inference, pages, results
from ftcourse.adapt import count_parameters
from ftcourse.corpora import languages
from ftcourse.data import make_loader
from ftcourse.standins import encoders
from ftcourse.train import fit

transformers.logging.set_verbosity_error()  # keep the pages free of load-time notices

# %% tags=["parameters"]
PROFILE = ftcourse.profile()
SEED = 0
# The source trains nothing here: its hub model is already fine-tuned on SST-2. Only the random
# ci stand-in is trained, for 3 epochs on 600 generated reviews, so its answers mean something.
SENTIMENT_EPOCHS = ftcourse.choose(ci=3, full=0)
SENTIMENT_TRAIN, SENTIMENT_TEST = ftcourse.choose(ci=(600, 300), full=(0, 300))
# The source capped the total length at 50 tokens (prompt included); we count only new tokens,
# 40 on full (about the source's 50 minus its prompts) and 12 on ci, where sentences are short.
MAX_NEW_TOKENS = ftcourse.choose(ci=12, full=40)
timer = results.Timer()
ftcourse.set_seed(SEED)
DEVICE = 0 if torch.cuda.is_available() else -1  # pipeline()'s device: GPU 0, or the CPU
# New tokens for a translation: room for a short sentence, split finely by the ci tokenizer.
TRANSLATION_NEW_TOKENS = ftcourse.choose(ci=24, full=40)
print(f"profile={PROFILE} transformers {transformers.__version__} torch {torch.__version__}")

# %%
pages.banner("06_inference_cookbook")

# %% [markdown]
# `ftcourse.hf` resolves each *role* to a model per profile, so the code below is the same on
# both. `hf.describe` says what stands behind a role right now:

# %%
ROLES = ["sentiment", "generation", "fill_mask", "language_detection", "translation"]
for role in ROLES:
    print(f"{role:19s} {hf.describe(role)}")

# %% [markdown]
# ## 1. Sentiment with DistilBERT
#
# ### Step 1: tokenize
#
# The tokenizer splits the text into sub-word pieces, maps each to its id, and adds the special
# tokens the model was trained with: `[CLS]` at the start (its final vector feeds the
# classification head) and `[SEP]` at the end (it marks the end of a segment, or separates two
# segments in sentence-pair tasks). The attention mask is 1 for every real token.

# %%
tokenizer = hf.load_tokenizer("sentiment")
model = hf.load_model("sentiment").to(ftcourse.device()).eval()
print(type(tokenizer).__name__, f"vocabulary {len(tokenizer):,};", count_parameters(model))

text = "Congratulations! You've won a free ticket to the Bahamas. Reply WIN to claim."
inputs = tokenizer(text, return_tensors="pt").to(model.device)
print(inputs["input_ids"])
print(tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))

# %% [markdown]
# `hf.load_tokenizer` checks every tokenizer it returns for a real vocabulary: offline,
# `BertTokenizerFast.from_pretrained("bert-base-uncased")` does not fail, it silently returns an
# empty tokenizer that turns every word into `[UNK]`.
#
# ### Step 2: the model gives logits

# %%
with torch.no_grad():
    logits = model(**inputs).logits
print(logits, tuple(logits.shape), "= [texts, classes]")

# %% [markdown]
# ### Steps 3 and 4: softmax, argmax, label
#
# The source wrote the label names out by hand (`labels = ["NEGATIVE", "POSITIVE"]`); the model's
# config already carries them as `id2label`, which is what the pipeline uses too.

# %%
probs = torch.softmax(logits, dim=-1)
predicted = int(probs.argmax(dim=-1))
print("probabilities", probs.cpu().numpy().round(4), "-> class", predicted,
      "->", model.config.id2label[predicted])

# %% [markdown]
# On the hub model the source got logits `[-3.9954, 4.3336]` and `POSITIVE` for this spam text
# (their output): a sentiment model rates the tone, not the honesty. Our untrained `ci` stand-in
# has near-equal logits and a coin-flip answer.
#
# ### The pipeline
#
# `pipeline("text-classification", ...)` runs the same steps. We give it the model and tokenizer
# objects we already hold (a hub name would make it load its own copies):

# %%
classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device=DEVICE)
print(classifier(text))

# %% [markdown]
# The by-hand path, packaged for a list of texts (padding the batch to its longest text, with
# the attention mask keeping the padding out):

# %%
pages.show_code(inference.classify_manually)

# %% [markdown]
# We compare the two paths on held-out generated reviews: same label, same probability (to
# floating-point noise), for every review.

# %%
reviews_test = corpora.generate_reviews(SENTIMENT_TEST, seed=1)
test_texts = [t for _, t in reviews_test]


def compare_classification(model, tokenizer, classifier, texts, max_length=128):
    """Share of texts where the by-hand path and the pipeline give the same label and score."""
    manual = inference.classify_manually(model, tokenizer, texts, max_length=max_length)
    piped = classifier(texts, batch_size=32, truncation=True, max_length=max_length)
    same = [m["label"] == p["label"] and abs(m["score"] - p["score"]) < 1e-4
            for m, p in zip(manual, piped)]
    return sum(same) / len(texts), piped


agree_before, piped = compare_classification(model, tokenizer, classifier, test_texts)
accuracy_before = inference.label_accuracy(reviews_test, [p["label"] for p in piped],
                                          model.config.id2label.get)
print(f"agreement {agree_before:.3f}; accuracy on {len(reviews_test)} held-out reviews: "
      f"{accuracy_before:.3f}")

# %% [markdown]
# ### Giving the `ci` stand-in some skill
#
# On `full` the hub model is already fine-tuned on SST-2 and nothing trains here. On `ci` the
# random stand-in guesses, so we train it for a few seconds on generated reviews, with the
# course's training loop (`ftcourse.train.fit`, chapter 2) and AdamW; `hf.LogitsOnly` hands `fit`
# the model's logits. The comparison then shows real predictions.

# %%
if SENTIMENT_EPOCHS:
    reviews_train = corpora.generate_reviews(SENTIMENT_TRAIN, seed=0)
    train_loader = make_loader(reviews_train, tokenizer, batch_size=32, shuffle=True,
                               max_length=128,
                               bucket=False, seed=SEED)
    ftcourse.set_seed(SEED)  # dropout draws from the global generator
    history = fit(hf.LogitsOnly(model), train_loader, epochs=SENTIMENT_EPOCHS, clip=None,
                  optimizer=torch.optim.AdamW(model.parameters(), lr=5e-3),
                  desc="sentiment stand-in")
    model.eval()  # fit leaves the model in training mode (dropout on)
    print("training loss per epoch:", [round(v, 3) for v in history.loss])
agree_sentiment, piped = compare_classification(model, tokenizer, classifier, test_texts)
accuracy_after = inference.label_accuracy(reviews_test, [p["label"] for p in piped],
                                         model.config.id2label.get)
print(f"agreement {agree_sentiment:.3f}; accuracy on {len(reviews_test)} held-out reviews: "
      f"{accuracy_after:.3f}")
for sentence in ["An absolute delight: moving, funny and beautifully acted.",
                 "Dull, predictable and far too long. I want my evening back."]:
    print(inference.classify_manually(model, tokenizer, sentence), classifier(sentence), sentence)

# %% [markdown]
# ## 2. Text generation with GPT-2
#
# A causal language model gives, at each position, logits for the **next** token. Generating is a
# loop: pick a next token from the last position's logits, append it, run again. *Greedy*
# decoding always picks the argmax. Here is that loop written out (no key-value cache, so each step
# re-reads the whole sequence; `generate` caches and is faster, with the same result):

# %%
pages.show_code(inference.greedy_generate)

# %%
gpt_tokenizer = hf.load_tokenizer("generation")
gpt = hf.load_model("generation").to(ftcourse.device()).eval()
print(type(gpt_tokenizer).__name__, f"vocabulary {len(gpt_tokenizer):,};",
      f"padding token: {gpt_tokenizer.pad_token}")
prompt = "Once upon a time"
inputs = gpt_tokenizer(prompt, return_tensors="pt").to(gpt.device)
print(inputs["input_ids"], gpt_tokenizer.convert_ids_to_tokens(inputs["input_ids"][0]))

# %% [markdown]
# GPT-2 has no padding token, so `generate` is told to pad with the end-of-text token (the
# source did the same). The source capped the **total** length with `max_length=50`; here
# `max_new_tokens` counts only the generated tokens, whatever the prompt's length. When the
# pipeline got both, it warned that `max_new_tokens` (256 by default) takes precedence, so the
# source's pipeline output ran far past 50 tokens.

# %%
manual_ids, _ = inference.greedy_generate(gpt, inputs["input_ids"], inputs["attention_mask"],
                                   max_new_tokens=MAX_NEW_TOKENS)
generated = gpt.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                         pad_token_id=gpt_tokenizer.eos_token_id)
generator = pipeline("text-generation", model=gpt, tokenizer=gpt_tokenizer, device=DEVICE)
piped = generator(prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, return_tensors=True)
piped_ids = piped[0]["generated_token_ids"]
print("by hand :", manual_ids[0].tolist())
print("generate:", generated[0].tolist())
print("pipeline:", list(piped_ids))
print(repr(gpt_tokenizer.decode(generated[0], skip_special_tokens=True)))

# %% [markdown]
# The source's greedy GPT-2 output shows the classic failure of greedy decoding on a real model,
# a loop: "Once upon a time, the world was a place of great beauty and great danger. The world
# was a place of great danger, and the world was a place of great danger..." (their output).
# On `ci` the GPT-2 stand-in was pre-trained here for seconds on generated text (named by
# `hf.describe` above) whose stories all open "Once upon a time there was a young (or old)
# ...": greedy decoding continues with such an opening, cut off by the 12-token cap.
# **Sampling** draws the next token from the softmax instead (here from the 50 most probable,
# `top_k=50`), which breaks loops but makes the output random: seed the generator to repeat it.

# %%
greedy_agree = manual_ids[0].tolist() == generated[0].tolist() == list(piped_ids)
transformers.set_seed(SEED)
sampled = gpt.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=True, top_k=50,
                       pad_token_id=gpt_tokenizer.eos_token_id)
transformers.set_seed(SEED)
sampled_piped = generator(prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=True, top_k=50,
                          return_tensors=True)
sampled_agree = sampled[0].tolist() == list(sampled_piped[0]["generated_token_ids"])
transformers.set_seed(SEED + 1)
other = generator(prompt, max_new_tokens=MAX_NEW_TOKENS, do_sample=True,
                  top_k=50)[0]["generated_text"]
print("sampled, seed", SEED, ":", repr(gpt_tokenizer.decode(sampled[0], skip_special_tokens=True)))
print("sampled, seed", SEED + 1, ":", repr(other))
print(f"greedy: by hand = generate = pipeline: {greedy_agree}; "
      f"sampled with the same seed, generate = pipeline: {sampled_agree}")

# %% [markdown]
# ## 3. Fill-mask with BERT
#
# A masked language model predicts the token behind `[MASK]` from both sides of the sentence.
# By hand: find the mask's position, take the logits there, softmax over the vocabulary, top-k.

# %%
pages.show_code(inference.fill_mask_manually)

# %%
bert_tokenizer = hf.load_tokenizer("fill_mask")
bert = hf.load_model("fill_mask").to(ftcourse.device()).eval()
fill_mask = pipeline("fill-mask", model=bert, tokenizer=bert_tokenizer, device=DEVICE)
mask_prompts = ["The capital of France is [MASK].", "This is a [MASK] movie!"]
fill_agree = []
for sentence in mask_prompts:
    manual = inference.fill_mask_manually(bert, bert_tokenizer, sentence, top_k=5)
    piped = fill_mask(sentence, top_k=5)
    same = [m["token"] for m in manual] == [p["token"] for p in piped] and all(
        math.isclose(m["score"], p["score"], abs_tol=1e-5) for m, p in zip(manual, piped))
    fill_agree.append(same)
    print(sentence, "| by hand:", [(m["token_str"], round(m["score"], 4)) for m in manual])
    print(" " * len(sentence), "| pipeline:",
          [(p["token_str"], round(p["score"], 4)) for p in piped],
          "| same:", same)

# %% [markdown]
# With `bert-base-uncased` the source got "paris" (0.417), then "lille", "lyon", "marseille" and
# "tours" (their output). A masked language model learns such facts by filling blanks in the text
# it is pre-trained on. The `ci` stand-in read the small world's statements ("The capital of
# Peru is Lima.", "The opposite of high is low.", "Two plus two is four.") and short movie
# verdicts, with 15% of their tokens masked, as BERT's pre-training masks them. For the movie it
# proposes evaluative words of both kinds, as `bert-base-uncased` did: nothing in the sentence
# says which the writer meant. For the capital of France it says "paris". We ask it for more
# statements of the facts, drawn with another seed than its training text (the facts are the
# same: they are what it memorised), keeping those whose answer is a single token:

# %%
world_right, world_rows = encoders.check_world_facts(bert, bert_tokenizer)
for masked, answer, got in world_rows[:4]:
    print(f"{masked:40s} -> {got:8s} (expected {answer})")
print(f"top-1 right on {world_right:.0%} of {len(world_rows)} statements")

# %% [markdown]
#
# ## 4. Language detection with XLM-RoBERTa
#
# The same classification steps with a multilingual model fine-tuned to name the language of a
# text among 20; its labels are language codes.

# %%
lang_tokenizer = hf.load_tokenizer("language_detection")
lang_model = hf.load_model("language_detection").to(ftcourse.device()).eval()
print(type(lang_tokenizer).__name__, f"vocabulary {len(lang_tokenizer):,}; labels",
      list(lang_model.config.id2label.values()))
detector = pipeline("text-classification", model=lang_model, tokenizer=lang_tokenizer,
                    device=DEVICE)
lang_texts = ["Bonjour, comment ça va?", "Wie geht es dir heute?", "The weather is lovely today.",
              "¿Dónde está la estación de tren?"]
agree_lang, piped = compare_classification(lang_model, lang_tokenizer, detector, lang_texts)
lang_expected = ["fr", "de", "en", "es"]
for sentence, p in zip(lang_texts, piped):
    print(f"{p['label']} ({p['score']:.3f})  {sentence}")
languages_right = sum(p["label"] == e for p, e in zip(piped, lang_expected)) / len(lang_texts)
print(f"by hand = pipeline on {agree_lang:.0%} of the texts; the language is right for "
      f"{languages_right:.0%} of them")

# %% [markdown]
# The source's hub model answered `fr` with probability 0.993 for "Bonjour, comment ça va?"
# (their output). The `ci` stand-in was pre-trained here on sentences of twenty generated
# languages, one per label, each made of its real language's common words ("bonjour", "comment",
# "wie", "geht", "dónde", ...). Its tokenizer, trained on English text, has no piece for a letter
# outside plain ASCII: "ç" and "ó" become `<unk>`, and so would every letter of Japanese, Arabic or
# Russian, which is why those languages are written in a Latin transliteration ("konnichiwa",
# "marhaban", "privet"). Its answers above come from the words it knows.
#
# ## 5. Translation with T5
#
# T5 casts every task as text to text and selects the task with a prefix such as
# `"translate English to German: "`. It is an **encoder-decoder**: the encoder reads the prompt
# once, then the decoder generates the answer token by token, starting from a special start token
# (for T5, the padding token). The source used `pipeline("text2text-generation")`, which current
# transformers no longer has; `model.generate` does the work, and our greedy loop does the same
# by hand.

# %%
t5_tokenizer = hf.load_tokenizer("translation")
t5 = hf.load_model("translation").to(ftcourse.device()).eval()
print(type(t5_tokenizer).__name__, f"vocabulary {len(t5_tokenizer):,}")
translate_agree = []
for sentence in ["translate English to German: How are you?",
                 "translate English to French: How are you?"]:
    inputs = t5_tokenizer(sentence, return_tensors="pt").to(t5.device)
    manual_ids, manual_logits = inference.greedy_generate(t5, inputs["input_ids"],
                                                          inputs["attention_mask"],
                                                          max_new_tokens=TRANSLATION_NEW_TOKENS)
    out = t5.generate(**inputs, max_new_tokens=TRANSLATION_NEW_TOKENS, do_sample=False,
                      return_dict_in_generate=True, output_logits=True)
    same_ids = manual_ids[0].tolist() == out.sequences[0].tolist()
    same_logits = len(manual_logits) == len(out.logits) and all(
        torch.allclose(a, b, atol=1e-4) for a, b in zip(manual_logits, out.logits))
    translate_agree.append(same_ids and same_logits)
    print(sentence, "->", repr(t5_tokenizer.decode(out.sequences[0], skip_special_tokens=True)))
    print("   ids", out.sequences[0].tolist(), "| by hand: same ids", same_ids, "same logits",
          same_logits)

# %% [markdown]
# The source's `t5-small` translated "How are you?" into French as "Comment êtes-vous?" (their
# output). Our `ci` stand-in was pre-trained here, behind the same two prefixes, on English
# sentences with their German and French translations: a few fixed phrases ("How are you?" ->
# "Wie geht es dir?", "Comment allez-vous?") and sentences over 8 nouns and 8 adjectives, whose
# articles and endings follow each noun's gender ("The cat is small." -> "Die Katze ist klein.",
# "Le chat est petit."). Its tokenizer, trained on English reviews and news, has no piece for "?":
# it becomes `<unk>`, a special token that decoding leaves out. Does it translate a combination of
# noun and adjective it never saw?

# %%
# "?" is <unk> on ci and dropped by decoding: the check compares the decoded forms.
translation_right, translation_rows = encoders.check_translations(
    t5, t5_tokenizer, languages.translation_pairs("test")[:12], TRANSLATION_NEW_TOKENS)
for prompt, _, text in translation_rows[:4]:
    print(f"{prompt:52s} -> {text}")
print(f"exactly the expected translation for {translation_right:.0%} of "
      f"{len(translation_rows)} prompts")

# %% [markdown]
# The hand-written loop reproduces `generate` token for token and logit for logit either way;
# what pre-training changed is that the tokens now mean something.
#
# ## What the run shows

# %%
metrics = {
    "agreement/sentiment": agree_sentiment,
    "agreement/generation_greedy": float(greedy_agree),
    "agreement/generation_sampled": float(sampled_agree),
    "agreement/fill_mask": sum(fill_agree) / len(fill_agree),
    "agreement/language_detection": agree_lang,
    "agreement/translation": sum(translate_agree) / len(translate_agree),
    "fill_mask/world_top1": world_right,
    "language_detection/examples_right": languages_right,
    "translation/unseen_exact": translation_right,
    "accuracy/sentiment_before": accuracy_before,
    "accuracy/sentiment": accuracy_after,
    "vocab/sentiment": len(tokenizer),
    "vocab/generation": len(gpt_tokenizer),
    "vocab/fill_mask": len(bert_tokenizer),
    "vocab/language_detection": len(lang_tokenizer),
    "vocab/translation": len(t5_tokenizer),
}
agreements = [k for k in metrics if k.startswith("agreement/")]
all_agree = all(metrics[k] == 1.0 for k in agreements)
disagreed = ", ".join(k for k in agreements if metrics[k] < 1)
if SENTIMENT_EPOCHS:
    trained = ("The sentiment stand-in started from random weights; trained for "
               f"{SENTIMENT_EPOCHS} epochs on {SENTIMENT_TRAIN:,} generated reviews, it went from "
               f"{accuracy_before:.1%} to {accuracy_after:.1%} accuracy")
else:
    trained = (f"The sentiment model ({hf.describe('sentiment')}) scored {accuracy_after:.1%} "
               "accuracy")
Markdown(
    f"On the `{PROFILE}` profile, the by-hand path and the pipeline "
    f"{'agreed on every task' if all_agree else 'disagreed on ' + disagreed}: "
    f"sentiment on {agree_sentiment:.0%} of {len(test_texts)} held-out reviews, language detection "
    f"on {agree_lang:.0%} of {len(lang_texts)} texts, fill-mask top-5 on {sum(fill_agree)} of "
    f"{len(fill_agree)} prompts, greedy generation {'' if greedy_agree else 'NOT '}token for "
    f"token, and sampling with the same seed {'gave' if sampled_agree else 'did NOT give'} the "
    f"same tokens. {trained} on {len(reviews_test)} held-out generated reviews."
)

# %% [markdown]
# ## What we learned
#
# - Every inference task is the same four steps: tokenize, run the model to get logits,
#   post-process (softmax, argmax or sampling, decoding), map to something readable.
# - `pipeline()` runs exactly those steps: by hand and pipeline agree label for label and token
#   for token, given the same model and tokenizer objects.
# - The label names live in the model's config (`id2label`); nothing needs writing out by hand.
# - Greedy decoding repeats itself on a real model; sampling breaks the loops and needs a seed
#   to repeat.
# - An encoder-decoder (T5) reads the prompt once and generates from a start token; a causal
#   model (GPT-2) re-reads its own output.
# - What a model answers comes from what it read in pre-training: the `ci` stand-ins, pre-trained
#   for seconds on a small world, fill in its capitals, name its languages and translate its
#   sentences; `bert-base-uncased` and `t5-small` do the same for the web they read.

# %% tags=["hide-input"]
path = results.record(
    "06_inference_cookbook", metrics,
    data_source=f"models: {'; '.join(hf.describe(r) for r in ROLES)}; "
                f"sentiment test: {len(reviews_test)} generated reviews (seed 1)",
    seconds=timer.seconds, extra={"sentiment_epochs": SENTIMENT_EPOCHS,
                                  "max_new_tokens": MAX_NEW_TOKENS},
)
print("recorded", path.name)
if PROFILE == "ci":
    # Both paths must agree exactly on every task. The random stand-in guesses (measured with
    # SEED 0: 0.493 before training) and the trained one does not (0.877 after 3 epochs; 0.88-0.92
    # over seeds 0-4, where 2 epochs gave 0.78-0.91; the generated labels carry 3% noise).
    results.check(metrics, {
        **{name: (1.0, 1.0) for name in agreements},
        "accuracy/sentiment_before": (0.3, 0.7),
        "accuracy/sentiment": (0.85, 1.0),
        "vocab/sentiment": (1000, 5000),
        # The pre-trained encoder stand-ins, measured: world facts top-1 0.950 (115 of 121), the
        # four example sentences all right, unseen translations 0.875 (21 of 24). With random
        # weights the detector said "ja" for all four and every translation was empty.
        "fill_mask/world_top1": (0.8, 1.0),
        "language_detection/examples_right": (1.0, 1.0),
        "translation/unseen_exact": (0.7, 1.0),
    })
