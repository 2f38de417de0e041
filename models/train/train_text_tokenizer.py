"""SentencePiece BPE tokenizer for the small text models, and its Hugging Face `tokenizer.json`.

Trains with Debian's python3-sentencepiece on the training split of prepare_text_corpus.py (BPE,
byte fallback, digits split, whitespace kept as is so code indentation survives; identity
normalisation), then converts the model to the `tokenizer.json` layout transformers writes for
Llama's SentencePiece tokenizers, which balmkit reads (src/llm/tokenizer.ts):
  normalizer  Prepend("▁") then Replace(" ", "▁")        (add_dummy_prefix, spaces as ▁)
  model       BPE over the pieces, merges ranked by the id of the merged piece (SentencePiece's
              BPE merges the pair whose result has the best score; scores fall with the id),
              byte_fallback, fuse_unk
  decoder     Replace("▁", " "), ByteFallback, Fuse, Strip(one leading space)
The conversion is checked against SentencePiece's own encoding of the held-out text
(make_text_tokenizer_fixture.py writes the fixture test/llm/text-tokenizer.test.ts reads).

Run: /usr/bin/python3 models/train/train_text_tokenizer.py --corpus /tmp/text-corpus --out models/text-small
"""
from __future__ import annotations

import argparse
import json
import os

import sentencepiece as spm

VOCAB = 4096


def train(corpus: str, out_prefix: str, vocab: int) -> None:
    spm.SentencePieceTrainer.train(
        input=os.path.join(corpus, "train.txt"),
        model_prefix=out_prefix,
        model_type="bpe",
        vocab_size=vocab,
        byte_fallback=True,
        split_digits=True,
        character_coverage=0.9995,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        add_dummy_prefix=True,
        max_sentence_length=16384,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=2,
        seed_sentencepiece_size=1_000_000,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=1,
    )


def to_tokenizer_json(model_path: str) -> dict:
    sp = spm.SentencePieceProcessor(model_file=model_path)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    # Merges: every split of a normal piece into two pieces of the vocabulary, ranked by the
    # merged piece's id (then the left and right ids); control and byte pieces never merge.
    mergeable = {p: i for p, i in vocab.items() if sp.is_unknown(i) is False and not sp.is_control(i)
                 and not sp.is_byte(i)}
    merges = []
    for piece, pid in mergeable.items():
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in mergeable and right in mergeable:
                merges.append((pid, mergeable[left], mergeable[right], left, right))
    merges.sort()
    special = [{"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False, "rstrip": False,
                "normalized": False, "special": True} for i in range(sp.get_piece_size())
               if sp.is_control(i) or sp.is_unknown(i)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": special,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[l, r] for _, _, _, l, r in merges],
        },
    }


def tokenizer_config() -> dict:
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "model_max_length": 1024,
        "tokenizer_class": "LlamaTokenizerFast",
        "legacy": True,
        "clean_up_tokenization_spaces": False,
    }


def write_json(obj: dict, path: str) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=None if path.endswith("tokenizer.json") else 2)
        f.write("\n")
    os.replace(path + ".tmp", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True, help="model folder: tokenizer.model, tokenizer.json, tokenizer_config.json")
    ap.add_argument("--vocab", type=int, default=VOCAB)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    prefix = os.path.join(args.out, "tokenizer")
    train(args.corpus, prefix, args.vocab)
    os.remove(prefix + ".vocab")
    write_json(to_tokenizer_json(prefix + ".model"), os.path.join(args.out, "tokenizer.json"))
    write_json(tokenizer_config(), os.path.join(args.out, "tokenizer_config.json"))
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    with open(os.path.join(args.corpus, "heldout.txt"), encoding="utf-8") as f:
        held = f.read()
    n = len(sp.encode(held))
    print(f"vocabulary {sp.get_piece_size()}; held-out: {len(held):,} characters -> {n:,} tokens "
          f"({len(held) / n:.2f} characters a token)")


if __name__ == "__main__":
    main()
