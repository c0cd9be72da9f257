//! Version schemes (being written).
