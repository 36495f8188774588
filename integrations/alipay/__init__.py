"""Alipay: the royalty (分账) calls settlement needs, and a local fake gateway for tests."""
