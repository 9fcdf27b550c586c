"""Local fakes of Cloudflare and the four clouds, for tests and the `demo` command."""
