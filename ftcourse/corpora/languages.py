"""Generated text in twenty languages and small English-German-French lexicons, for the `ci`
stand-ins of chapter 06's language detector and translator (`ftcourse.standins.encoders`).

Language detection: each language of the detector's head (`ftcourse.hf.LANGUAGES`) is a list of
its own real common words, and a sentence is a handful of them. Latin-script languages keep their
spelling (the ci tokenizers, trained on English text, turn accented letters into `<unk>`, as they
do in a real sentence); the others are written in a common Latin transliteration (Hepburn romaji,
pinyin without tones, ...), since every non-Latin character would be `<unk>`.

Translation: English sentences from a few templates over 8 nouns and 8 adjectives, with their
German and French translations, articles and adjective endings following each noun's gender, plus
a few fixed phrases ("How are you?"). Only ASCII spellings, for the same reason.
"""

from __future__ import annotations

import hashlib
import random

# Real frequent words of each language, the most frequent first (sampling favours them).
LANGUAGE_WORDS: dict[str, tuple[str, ...]] = {k: tuple(v.split()) for k, v in {
    "en": "the of and to is in you that it he was for on are with they be at have this from "
          "we can what there when your how said each she which do their time will about many "
          "then would like so these her make see him two has look more day could go come did "
          "good morning weather lovely today train station where thank please house friend",
    "fr": "le la les de des un une et est il elle je tu nous vous ils pas ne que qui dans pour "
          "sur avec au du ce cette mais ou très bien bonjour merci comment ça va temps gare "
          "train beau maison être avoir faire dire aller voir toujours rien tout fait chez moi "
          "toi oui non beaucoup aujourd'hui demain jour soir ami",
    "de": "der die das und ist nicht ich du er sie es wir ihr ein eine zu den dem mit von auf "
          "für im wie geht dir heute gut danke bitte ja nein wo Bahnhof Zug Wetter schön sehr "
          "auch noch nur haben sein werden kann muss mein dein Haus Tag morgen gestern immer "
          "schon aber oder wenn dass was warum Freund",
    "es": "el la los las de del y que en un una es está son no sí por para con como pero muy "
          "bien hola gracias dónde cuándo qué estación tren hoy mañana tiempo casa día yo tú "
          "él ella nosotros tengo tiene hacer ir ver todo también ahora aquí allí amigo",
    "it": "il lo la gli le di da e che non è un una per con su come ma anche molto bene ciao "
          "grazie buongiorno dove stazione treno oggi domani tempo casa giorno io tu lui lei noi "
          "voi sono sei siamo essere avere fare andare questo quello perché sempre ancora amico",
    "pt": "o a os as de do da em no na um uma e que não é está com por para como mas muito bem "
          "olá obrigado onde estação comboio hoje amanhã tempo casa dia eu você ele ela nós sim "
          "fazer ir ver também agora aqui isso isto então quando amigo",
    "nl": "de het een en van ik je is dat niet op te zijn met voor hij zij wij maar ook als er "
          "dan nog goed dank hallo waar station trein vandaag morgen weer huis dag mooi heel "
          "wat hoe gaat jou worden hebben kunnen moeten zeggen gaan altijd nooit vriend",
    "pl": "i w nie na się to jest że do z jak co ale tak czy dla ja ty on ona my wy oni dzień "
          "dobry dziękuję proszę gdzie dworzec pociąg dzisiaj jutro pogoda dom bardzo dobrze "
          "który jestem mam być mieć robić iść już jeszcze tylko przez może wszystko przyjaciel",
    "tr": "bir ve bu da de ne için çok ben sen o biz siz onlar var yok evet hayır merhaba "
          "teşekkür ederim nerede istasyon tren bugün yarın hava ev gün güzel iyi nasıl değil "
          "gibi daha kadar sonra şimdi burada orada geliyor gidiyorum yapmak olmak arkadaş",
    "sw": "na ya wa kwa ni za katika hii huyo mimi wewe yeye sisi ninyi wao habari jambo asante "
          "sana karibu ndiyo hapana wapi kituo treni leo kesho hali nyumba siku nzuri mzuri "
          "vizuri kama lakini pia sasa hapa kula kwenda kuona kufanya watu mtu mtoto chakula maji "
          "rafiki",
    "vi": "và của là có không một những người tôi bạn anh chị em chúng ta được này đó cho với "
          "trong xin chào cảm ơn đâu ở ga tàu hôm nay mai thời tiết nhà ngày đẹp tốt rất cũng "
          "bây giờ đi làm thấy nói biết",
    # Transliterated: the ci tokenizer has no piece for any character of these scripts.
    "ja": "watashi anata kare kanojo wa ga wo ni de to no mo desu masu arimasu imasu kore sore "
          "are doko eki densha kyou ashita tenki ii ie konnichiwa arigatou gozaimasu hai iie "
          "sumimasen nani naze totemo sukoshi ikimasu mimasu tabemasu shimasu kirei ohayou "
          "tomodachi",
    "zh": "wo ni ta women shi de le bu zai you he zhe na nali huoche zhan jintian mingtian "
          "tianqi hen hao xiexie nihao qing duibuqi shenme weishenme jia tian ren kan qu lai chi "
          "shuo zhidao xiang keyi dou ye hai mei jiu pengyou",
    "ru": "ya ty on ona my vy oni i v ne na chto kak eto no s po dlya privet spasibo "
          "pozhaluysta da net gde vokzal poyezd segodnya zavtra pogoda dom den khorosho ochen "
          "tozhe seychas zdes tam byt delat idti videt govorit znat khochu mozhno vse uzhe yeshche "
          "drug",
    "bg": "az ti toy tya nie vie te i v ne na che kak tova no s za zdravey blagodarya molya da "
          "kade gara vlak dnes utre vremeto kashta den dobre mnogo sashto sega tuk tam sam si e "
          "sme ste sa pravya otivam vizhdam kazvam znam iskam mozhe vsichko veche oshte priyatel",
    "el": "ego esy aftos afti emeis eseis kai sto sti to ta o einai den na tha me gia apo geia "
          "sou efcharisto parakalo nai ochi pou stathmos treno simera avrio kairos spiti mera "
          "kala poli episis tora edo ekei thelo pao vlepo leo xero boro ola akoma filos",
    "ar": "ana anta huwa hiya nahnu antum hum wa fi min ila ala an hadha hadhihi ma la naam "
          "marhaban shukran ayna mahatta qitar alyawm ghadan taqs bayt yawm jayyid jiddan aydan "
          "alan huna hunak uridu adhhab ara aqul arif kull qad kana yakun kayfa haluka sadiq",
    "hi": "main tum aap vah ham ve hai hain ka ki ke ko se mein par aur nahin kya kaise namaste "
          "dhanyavaad kripya haan kahan steshan railgadi aaj kal mausam ghar din achchha bahut "
          "bhi ab yahan vahan jaana dekhna kahna jaanna chahta sakta sab pustak vidyalay prashn "
          "uttar mitra",
    # Urdu shares Hindi's grammar; its everyday words lean on Persian and Arabic.
    "ur": "mein tum aap woh hum hay ka ki ke ko se aur nahi kya kaisay assalam alaikum shukriya "
          "meharbani ji kahaan aaj kal mausam ghar din acha bohat bhi ab yahaan wahaan jana "
          "dekhna kehna janna chahta sakta sab kitab madrasa sawal jawab zindagi dost khush "
          "mulk waqt duniya zaroor lekin kyunke agar magar",
    "th": "phom chan khun khao rao pen mi mai chai thi khong lae nai kap ka khrap sawatdi khop "
          "rot fai sathani wan ni phrungni akat ban di mak duai tonni thini thinan pai du phut "
          "ru yak dai thuk yang laeo arai thammai yu ngai sanuk aroi phuean",
}.items()}


def language_sentences(n: int, seed: int = 0, languages: tuple[str, ...] = tuple(LANGUAGE_WORDS),
                       min_words: int = 3, max_words: int = 9) -> list[tuple[str, str]]:
    """`n` (language code, sentence) pairs cycling through `languages`: a few of the language's
    common words, capitalised, with a full stop or question mark. The ci language detector's
    pre-training text (chapter 06)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown = sorted(set(languages) - set(LANGUAGE_WORDS))
    if unknown or not languages:
        raise ValueError(f"unknown language(s) {unknown or languages}; the codes are {sorted(LANGUAGE_WORDS)}")
    if not 1 <= min_words <= max_words:
        raise ValueError(f"need 1 <= min_words <= max_words, got {min_words} and {max_words}")
    rng = random.Random(f"languages:{seed}")
    pairs = []
    for k in range(n):
        code = languages[k % len(languages)]
        words = LANGUAGE_WORDS[code]
        weights = [1 / (rank + 2) for rank in range(len(words))]  # Zipf-like: frequent words first
        picked = rng.choices(words, weights, k=rng.randint(min_words, max_words))
        text = " ".join(picked)
        pairs.append((code, text[0].upper() + text[1:] + rng.choice(".?")))
    return pairs


# Nouns: English, German (gender m/f/n), French (gender m/f). ASCII only: the ci tokenizers turn
# any other letter into <unk>.
NOUNS = (
    ("dog", "Hund", "m", "chien", "m"), ("cat", "Katze", "f", "chat", "m"),
    ("house", "Haus", "n", "maison", "f"), ("book", "Buch", "n", "livre", "m"),
    ("bed", "Bett", "n", "lit", "m"), ("table", "Tisch", "m", "table", "f"),
    ("flower", "Blume", "f", "fleur", "f"), ("fish", "Fisch", "m", "poisson", "m"),
)
# Adjectives: English, German (predicative, no ending), French masculine and feminine.
ADJECTIVES = (
    ("small", "klein", "petit", "petite"), ("black", "schwarz", "noir", "noire"),
    ("red", "rot", "rouge", "rouge"), ("yellow", "gelb", "jaune", "jaune"),
    ("cold", "kalt", "froid", "froide"), ("warm", "warm", "chaud", "chaude"),
    ("heavy", "schwer", "lourd", "lourde"), ("clean", "sauber", "propre", "propre"),
)
PHRASES = (  # fixed phrases, always in the training set
    ("How are you?", "Wie geht es dir?", "Comment allez-vous?"),
    ("Good morning.", "Guten Morgen.", "Bonjour."),
    ("Thank you.", "Danke.", "Merci."),
    ("Good night.", "Gute Nacht.", "Bonne nuit."),
)
_DE_THE = {"m": "der", "f": "die", "n": "das"}
_DE_THE_ACC = {"m": "den", "f": "die", "n": "das"}
_DE_A_ACC = {"m": "einen", "f": "eine", "n": "ein"}
_FR_THE = {"m": "le", "f": "la"}
_FR_A = {"m": "un", "f": "une"}


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _sentences() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(every noun in the two plain templates, every noun-adjective combination)."""
    plain, rows = [], []
    for en, de, dg, fr, fg in NOUNS:
        plain.append((f"I see the {en}.", f"Ich sehe {_DE_THE_ACC[dg]} {de}.", f"Je vois {_FR_THE[fg]} {fr}."))
        plain.append((f"We have a {en}.", f"Wir haben {_DE_A_ACC[dg]} {de}.", f"Nous avons {_FR_A[fg]} {fr}."))
        for a_en, a_de, a_m, a_f in ADJECTIVES:
            a_fr = a_f if fg == "f" else a_m
            rows.append((f"The {en} is {a_en}.", f"{_cap(_DE_THE[dg])} {de} ist {a_de}.",
                         f"{_cap(_FR_THE[fg])} {fr} est {a_fr}."))
            rows.append((f"The {en} is not {a_en}.", f"{_cap(_DE_THE[dg])} {de} ist nicht {a_de}.",
                         f"{_cap(_FR_THE[fg])} {fr} n'est pas {a_fr}."))
    return plain, rows


def translation_pairs(split: str = "train", held_out: float = 0.2) -> list[tuple[str, str, str]]:
    """(English, German, French) sentences of the small translation world (chapter 06): `split`
    "train" holds the fixed phrases, every noun with "I see the" and "We have a", and about
    1 - `held_out` of the noun-adjective sentences; "test" the rest of those (the same every run),
    so a test shows the translation of combinations never seen."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not 0 <= held_out < 1:
        raise ValueError(f"held_out must be in [0, 1), got {held_out}")

    def in_test(english: str) -> bool:
        digest = hashlib.sha256(english.encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < held_out

    plain, combinations = _sentences()
    rows = [row for row in combinations if in_test(row[0]) == (split == "test")]
    return (list(PHRASES) + plain + rows) if split == "train" else rows
