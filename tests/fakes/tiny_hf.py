"""A tiny random chat model built offline in seconds, for testing the hf backend.

The tokenizer is a byte-level BPE trained in-process and wrapped with a ChatML template; the
model is a 2-layer Llama whose output layer is scaled up so greedy decoding has large top-1
margins and does not flip under the tiny numeric differences that left padding introduces.
"""

from __future__ import annotations

from pathlib import Path

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
SPECIALS = ["<|im_end|>", "<|im_start|>", "<|endoftext|>"]  # EOS has id 0: wins all ties
CORPUS = ["Alice offers Bob three apples for two pears.",
          "Bob refuses and proposes an even split of the budget.",
          "The committee must agree on a deal before the deadline.",
          "You are a negotiator. Make your first offer now.",
          "system user assistant: numbers 0 1 2 3 4 5 6 7 8 9 and points"] * 20


def _train_tokenizer() -> object:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", chat_template=CHATML)


def build_tiny_chat_model(folder: Path, *, seed: int = 0, eos_first: bool = False,
                          max_positions: int = 512) -> Path:
    """Save a tokenizer + random LlamaForCausalLM to ``folder``; ``eos_first`` makes the model
    end every answer at once (to test ``finish_reason == "stop"``); ``max_positions`` bounds
    prompt plus answer (the real prompts of a game need a few thousand: the vocabulary is tiny,
    so a token is about two characters)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _train_tokenizer()
    eos, pad = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_positions, bos_token_id=None, eos_token_id=eos,
                         pad_token_id=pad, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(300.0)
        model.lm_head.weight[pad].fill_(0.0)  # never predict padding
        if eos_first:  # all logits 0; greedy argmax takes the first id, which is EOS
            model.model.norm.weight.fill_(0.0)
        else:
            model.lm_head.weight[eos].fill_(0.0)
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = pad
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
