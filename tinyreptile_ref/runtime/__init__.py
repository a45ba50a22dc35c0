"""The on-device training runtime's twin: model.py mirrors csrc/model.c (layer table, flat
parameter buffer, memory plan, fused/grad/accum steps, device rounds). Built on kernels/."""
