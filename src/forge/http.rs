//! Shared HTTP client for forges and channels (being written).
