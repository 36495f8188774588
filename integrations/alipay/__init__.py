"""Alipay (支付宝) adapter: daily bills, and the royalty (分账) calls settlement pays with, with a
local fake gateway for tests."""
