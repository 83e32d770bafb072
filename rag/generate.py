"""The small language model, run by llama.cpp: loaded once, asked with its own chat template, streamed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import ModelError
from .prompts import CHOOSE_FEW_SHOT, CHOOSE_SYSTEM, CHOOSE_TEMPLATE, FEW_SHOT, PASSAGE, SYSTEM_PROMPT, USER_TEMPLATE


def build_messages(question: str, passages: list[str]) -> list[dict]:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    for user, assistant in FEW_SHOT:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    body = "\n".join(PASSAGE.format(n=i, text=p) for i, p in enumerate(passages, 1))
    messages.append({"role": "user", "content": USER_TEMPLATE.format(passages=body, question=question)})
    return messages


def choice_messages(question: str, passage: str, options: list[str]) -> list[dict]:
    messages = [{"role": "system", "content": CHOOSE_SYSTEM}]
    for user, assistant in CHOOSE_FEW_SHOT:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    content = CHOOSE_TEMPLATE.format(passage=passage, options=" | ".join(options), question=question)
    return messages + [{"role": "user", "content": content}]


def _gbnf_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def options_grammar(options: list[str]) -> str:
    """A GBNF grammar whose only sentences are the options: the model can pick, never invent."""
    return "root ::= " + " | ".join(_gbnf_literal(o) for o in options) + "\n"


class Generator:
    def __init__(self, name: str, path: Path, n_ctx: int = 2048, n_threads: int = 0, max_tokens: int = 48):
        self.name = name
        self.path = Path(path)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 2
        self.max_tokens = max_tokens
        self._llm = None

    @property
    def llm(self):
        if self._llm is None:
            try:
                from llama_cpp import Llama

                self._llm = Llama(
                    model_path=str(self.path),
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    n_batch=512,
                    verbose=False,
                )
            except Exception as e:
                raise ModelError(f"cannot load language model {self.name} from {self.path}: {e}") from None
        return self._llm

    def choose(self, question: str, passage: str, options: list[str]) -> str:
        """One of `options`, picked by the model reading `passage` (constrained decoding, temperature 0)."""
        from llama_cpp import LlamaGrammar

        grammar = LlamaGrammar.from_string(options_grammar(options), verbose=False)
        stream = self.llm.create_chat_completion(
            messages=choice_messages(question, passage, options),
            temperature=0.0,
            top_k=1,
            max_tokens=max(8, 2 * max(self.count_tokens(o) for o in options)),
            grammar=grammar,
            stream=True,
        )
        reply = ""
        try:
            for part in stream:
                reply += part["choices"][0]["delta"].get("content") or ""
                # the grammar allows only the options, so once the text so far begins just one of them, that is
                # the pick: stop decoding there (saves most of the decode; the answer is the same)
                live = [o for o in options if o.startswith(reply.lstrip())]
                if len(live) == 1 and reply.strip():
                    return live[0]
        finally:
            stream.close()
        reply = reply.strip()
        return reply if reply in options else options[0]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def stream(self, messages: list[dict], deadline_s: float = 60.0) -> Iterator[str]:
        """Yields text pieces as they are decoded; stops at max_tokens or when the deadline passes."""
        start = time.monotonic()
        for part in self.llm.create_chat_completion(
            messages=messages, temperature=0.0, top_k=1, max_tokens=self.max_tokens, stream=True
        ):
            piece = part["choices"][0]["delta"].get("content") or ""
            if piece:
                yield piece
            if time.monotonic() - start > deadline_s:
                break

    def complete(self, messages: list[dict], on_token: Callable[[str], None] | None = None, deadline_s: float = 60.0) -> tuple[str, float]:
        """The whole reply and the time to its first piece (ms)."""
        start = time.perf_counter()
        first = 0.0
        pieces = []
        for piece in self.stream(messages, deadline_s):
            if not pieces:
                first = (time.perf_counter() - start) * 1000
            pieces.append(piece)
            if on_token:
                on_token(piece)
        return "".join(pieces).strip(), first
