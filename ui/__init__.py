"""The Gradio web chat over the answering service (rag/serve/service.py) (start it with `rag ui` or `python -m ui`)."""
