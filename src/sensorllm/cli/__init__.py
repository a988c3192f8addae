"""Command-line interface: ``sensorllm <command>``. Each command lives in its own module here."""

__all__: list[str] = []
