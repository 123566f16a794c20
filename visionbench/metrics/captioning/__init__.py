"""Captioning metrics as the COCO-caption evaluation and sacreBLEU compute them.

- ``evaluator``: :class:`CaptionEvaluator` (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, sacreBLEU).
- ``bleu``, ``cider``, ``rouge``: the metrics; ``ptb_tokenizer``: the PTB-style tokenizer;
  ``java_tools``: METEOR / SPICE / the Stanford tokenizer, run as pycocoevalcap runs them.
"""
