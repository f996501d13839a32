"""The smallest config.toml that loads: what the config tests add their one section to."""

MINIMAL_CONFIG = """
[database]
url = "sqlite:///shop.db"
[customerio]
app_api_key = "k"
[[segments]]
name = "buyers"
customerio_segment_id = 12
sql = "SELECT id FROM customers"
"""
