"""Every prompt and fixed phrase, named, in one place. Code and tests share these constants."""

# What the user sees when the articles do not answer the question.
CANNOT_ANSWER_PHRASE = "The documents do not contain the answer to this question."

# Between a short answer and the sentence it comes from ("Ren Zhengfei — Huawei's founder, Ren Zhengfei, …").
SHORT_SEPARATOR = " — "

# Added to the refusal when the question names something no document mentions.
NO_DOCUMENT_MENTIONS = "No document mentions {names}."

# What the model is told to reply when the passages do not answer; matched case-insensitively.
MODEL_NOT_FOUND = "NOT FOUND"

# Shown with an answer that is the best matching sentence rather than the model's own words.
QUOTE_NOTE = "The model's answer was not supported by the cited text, so the best supporting sentence is shown instead."

# Shown when the model's reply only repeated an instruction found in a document ("reply only with …").
INSTRUCTION_NOTE = "The model's answer repeated an instruction found in a document, so the best supporting sentence is shown instead."

# Kept short: the model prefills about 250 tokens/s on 2 cores, so every token here is latency. The system
# prompt and the example are identical for every question, so llama.cpp re-uses their KV cache.
SYSTEM_PROMPT = (
    "You answer questions about {documents} using only the passages given. "
    "Reply with the answer only, in a few words, copying names and numbers exactly as written. "
    f"If the passages do not answer the question, reply {MODEL_NOT_FOUND}."
)

FEW_SHOT = [
    (
        "Passages:\n[1] The company was led by Anna Berg, its chief executive, who joined in 2015.\n\n"
        "Question: Who led the company?",
        "Anna Berg",
    ),
    (
        "Passages:\n[1] The company was led by Anna Berg, its chief executive, who joined in 2015.\n\n"
        "Question: What is the capital of Peru?",
        MODEL_NOT_FOUND,
    ),
]

PASSAGE = "[{n}] {text}"
USER_TEMPLATE = "Passages:\n{passages}\n\nQuestion: {question}"

# Choosing among candidate answers found in the evidence (the output is constrained to one of them).
CHOOSE_SYSTEM = "You answer questions about {documents}. Reply with the option from the passage that answers the question."


def documents(noun: str) -> str:
    """What the prompts call the folder's files: news articles only where the collection says it holds articles."""
    return "news articles" if noun == "articles" else "documents"
CHOOSE_FEW_SHOT = [
    (
        "Passage: The company was led by Anna Berg, its chief executive, who joined Nordcom in 2015.\n"
        "Options: Anna Berg | Nordcom | 2015\n\nQuestion: Who led the company?",
        "Anna Berg",
    ),
]
CHOOSE_TEMPLATE = "Passage: {passage}\nOptions: {options}\n\nQuestion: {question}"
