"""HTTP routes, one blueprint per concern, registered in ``pandora_v1.create_app``."""
