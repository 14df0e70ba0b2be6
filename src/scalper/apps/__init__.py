"""Applications: the CLI, the demo and the composition root. Only this layer wires adapters."""
