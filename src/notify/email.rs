//! Email messages (being written).
