"""``--amp``: mixed-precision forward passes, with a gradient scaler where float16 needs one.

On CUDA, bfloat16 autocast (same range as float32, so no loss scaling) where the GPU supports it, float16
with a GradScaler otherwise. On the CPU, bfloat16 autocast: it runs everywhere, but is faster only on CPUs
with bfloat16 units (AMX, AVX-512 BF16); elsewhere it is for checking a run before it goes to a GPU.
Losses are always computed in float32, from the model outputs cast back.
"""
import contextlib

import torch


class Precision:
    def __init__(self, device, amp=False):
        self.device_type = torch.device(device).type
        self.dtype = None
        if amp:
            if self.device_type == "cuda":
                self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            elif self.device_type == "cpu":
                self.dtype = torch.bfloat16
            else:
                raise ValueError(f"--amp: mixed precision is supported on cuda and cpu, not {self.device_type}")
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.dtype == torch.float16)

    @property
    def name(self):
        return "float32" if self.dtype is None else str(self.dtype).removeprefix("torch.")

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward_and_step(self, loss, optimizer):
        """``loss.backward()`` and ``optimizer.step()``; with float16, through the scaler (a step whose
        gradients overflowed is skipped and the scale lowered)."""
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self):
        return self.scaler.state_dict()

    def load_state_dict(self, state):
        if state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state)
