"""The components of the Flower App: tinyreptile_ref's ServerApp (options from the run config)
and ClientApp (a simulated device, or a proxy to devices on links, from the node config)."""
from tinyreptile_ref.tools.flower import client_app as _client_app
from tinyreptile_ref.tools.flower import server_app as _server_app

server_app = _server_app()
client_app = _client_app()
