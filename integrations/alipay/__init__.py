"""Alipay (支付宝) adapter: bills today; payments and royalty split come with the payment issue."""
