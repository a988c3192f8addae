"""sensorllm: align large language models with wearable motion sensors (SensorLLM, Li et al. 2025)."""

__version__ = "0.1.0"
__all__ = ["__version__"]
