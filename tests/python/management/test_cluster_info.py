"""cluster.cluster_info(): the nodes and the server version, on the three front ends and both
SDKs."""


def test_cluster_info(fe, kv, server):
    cluster, _, _ = kv
    info = cluster.cluster_info()
    assert len(info.nodes) == 1
    assert info.nodes[0]["hostname"] == "127.0.0.1:%d" % server.http_port
    full = info.server_version_full
    assert full and full.count("-") == 2
    assert info.server_version == full[:10]
    assert info.server_version_short == float(full[:3])
    assert isinstance(info.server_version_build, int)
    # (the official is_community raises AttributeError in 4.6.3: not asked here)
    assert info.is_enterprise == full.upper().endswith("ENTERPRISE")
