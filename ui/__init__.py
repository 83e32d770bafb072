"""The Gradio web chat over rag.answer.Pipeline (start it with `rag ui` or `python -m ui`)."""
