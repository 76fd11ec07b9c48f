"""``python -m sdex``: the same commands as the ``sdex`` script."""

from sdex.cli import main

main(prog_name="sdex")
