"""Fleets on Flower (flwr 1.42, the optional extra `[flower]`, Python >= 3.11): TinyReptile,
Reptile and FedAvg as a Flower ServerApp loop on the Message API, and ClientApps that train as
simulated devices or proxy to devices over the wire protocol (docs/protocol.md).

  strategy.py  the server side: the project's seeded device selection, the device index in
               the message's config record, a wait for enough nodes, aggregation with the
               project's kernels in device order, the device rig's fault rule
  clients.py   the client side: a simulated device (C backend) and a proxy to devices on links

flwr is imported only by these modules; the rest of the package never needs it.
"""
