"""WeChat Pay v3 (微信支付) adapter: the daily trade bill today."""
