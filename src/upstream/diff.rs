//! Release diff (being written).
