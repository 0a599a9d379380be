"""REDIS_URL naming a Redis Cluster: the URL's nodes and options, the Redis broker refused with
an error naming the variables, QUEUE_PREFIX from REDIS_PREFIX, and the clients it builds."""

from __future__ import annotations

import pytest
import redis.asyncio.cluster

from models.errors import ConfigError
from models.redis import cluster_options, connect_async, connect_sync, is_cluster
from models.settings import Settings

CLUSTER = "redis+cluster://10.0.0.1:7000,10.0.0.2:7000,[::1]:7001"
SECRETS = {"SECRET_KEY": "test-secret-key-0123456789abcdef", "ADMIN_TOKEN": "test-admin-token"}


def test_a_cluster_url_lists_its_start_nodes():
    assert cluster_options(CLUSTER) == {"nodes": [("10.0.0.1", 7000), ("10.0.0.2", 7000), ("::1", 7001)], "ssl": False}


def test_a_tls_cluster_url_with_credentials_passes_them_to_every_node():
    options = cluster_options("rediss+cluster://app:s%40cret@r1:6380,r2:6380/")
    assert options == {"nodes": [("r1", 6380), ("r2", 6380)], "ssl": True, "username": "app", "password": "s@cret"}


@pytest.mark.parametrize("url", ["redis+cluster://", "redis+cluster://host", "redis+cluster://h:1,h:port"])
def test_a_cluster_url_without_host_and_port_names_redis_url(url):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        cluster_options(url)


def test_a_cluster_url_builds_an_asyncio_cluster_client_and_a_plain_url_plain_clients():
    # None of these connects until used (the blocking cluster client would: tests/integration/cluster).
    aclient = connect_async(CLUSTER)
    assert isinstance(aclient, redis.asyncio.cluster.RedisCluster) and is_cluster(aclient)
    assert sorted(aclient.nodes_manager.startup_nodes) == ["10.0.0.1:7000", "10.0.0.2:7000", "::1:7001"]
    assert not is_cluster(connect_async("redis://127.0.0.1:6379/0"))
    assert not is_cluster(connect_sync("redis://127.0.0.1:6379/0"))


def test_a_cluster_with_rabbitmq_is_accepted():
    settings = Settings.from_env({**SECRETS, "REDIS_URL": CLUSTER, "BROKER_URL": "amqp://guest:guest@mq:5672/"})
    assert settings.redis_url == CLUSTER and settings.broker_url.startswith("amqp://")


@pytest.mark.parametrize(("env", "said"), [
    ({"REDIS_URL": CLUSTER}, "unset (it defaults to REDIS_URL)"),
    ({"REDIS_URL": CLUSTER, "BROKER_URL": "redis://10.0.0.9:6379/0"}, "not amqp://"),
])
def test_a_cluster_with_dramatiq_s_redis_broker_is_refused_naming_both_variables(env, said):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**SECRETS, **env})
    message = str(refused.value)
    assert "REDIS_URL" in message and "BROKER_URL" in message and "amqp://" in message and said in message


@pytest.mark.parametrize(("env", "prefix"), [
    ({}, ""),
    ({"REDIS_PREFIX": "td:"}, ""),
    ({"REDIS_PREFIX": "shop-a:"}, "shop-a."),
    ({"REDIS_PREFIX": "9x:"}, "_9x."),
    ({"REDIS_PREFIX": "shop-a:", "QUEUE_PREFIX": "eu1."}, "eu1."),
])
def test_queue_names_follow_redis_prefix_unless_queue_prefix_says_otherwise(env, prefix):
    assert Settings.from_env({**SECRETS, **env}).queue_prefix == prefix


def test_a_queue_prefix_dramatiq_would_refuse_names_queue_prefix():
    with pytest.raises(ConfigError, match="QUEUE_PREFIX"):
        Settings.from_env({**SECRETS, "QUEUE_PREFIX": "bad prefix:"})
