// placeholder: being written by the tokenizer helper
