"""origin-region-agent: keeps Cloudflare origin cloud region mappings in sync with your clouds."""
