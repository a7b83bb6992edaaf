"""`python -m nowcast`, used by `torchrun -m nowcast train`."""

from nowcast.cli.app import main

main()
