"""Product-free orchestration shared by every job: progress, memory, prefetch, spooling,
ranges, input fingerprints."""
