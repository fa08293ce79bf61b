"""Active/standby: the lease that makes one of two bridges the active one (role, lease)."""
