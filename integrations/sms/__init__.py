"""Text messages: one client with `file`, `memory` and `aliyun` backends, and a fake Aliyun server.

Apps call `integrations.sms.client.send_sms(...)`; `SMS_BACKEND` picks where the message goes.
"""
