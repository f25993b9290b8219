"""Fixtures of the distributed tests (defined in dist_services, registered here)."""

from dist_services import cluster, pg_cluster, redis_server

__all__ = ["cluster", "pg_cluster", "redis_server"]
