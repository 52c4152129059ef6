"""The running service: platform adapters, the delivery worker, the composition root and the `mcu` command."""
