"""qwenvid: make videos with Alibaba's Wan models on DashScope, and emulate DashScope locally."""

__version__ = "0.1.0"
