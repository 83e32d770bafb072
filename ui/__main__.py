"""python -m ui [--host H] [--port N]: the same as `rag ui`."""

from rag.cli import ui_cmd

if __name__ == "__main__":
    ui_cmd(prog_name="python -m ui")
