"""``python -m botarmy_nb.worker``: the same as ``botarmy-nb worker``."""

from botarmy_nb.worker.cli import worker_command

if __name__ == "__main__":
    worker_command(prog_name="botarmy-nb worker")
