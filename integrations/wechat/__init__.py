"""WeChat mini-program login (code-to-session) through wechatpy, and a fake WeChat server."""
